// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace selftests library: JSON, just enough for the reader's output:
 * find a member by its dotted path, read a value; and text, line by line.
 */
#include <ctype.h>

#include "twtrace_lib.h"

const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Past the string whose opening quote is at @p; NULL if unterminated. */
static const char *js_skip_str(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && !*++p)
			return NULL;
	return *p ? p + 1 : NULL;
}

/* Past the value at @p (string, number, literal, object, array). */
static const char *js_skip(const char *p)
{
	int depth = 0;

	p = js_ws(p);
	if (*p == '"')
		return js_skip_str(p);
	if (*p != '{' && *p != '[')
		return p + strcspn(p, ",}] \t\r\n");
	while (*p) {
		if (*p == '"') {
			p = js_skip_str(p);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && !--depth)
			return p + 1;
		p++;
	}
	return NULL;
}

/* Past the value at @p and the comma after it: the next one, or NULL. */
static const char *js_next(const char *p)
{
	p = js_skip(p);
	if (!p)
		return NULL;
	p = js_ws(p);
	if (*p != ',')
		return NULL;
	return js_ws(p + 1);
}

/* The value of member @key (no dots) of the object at @obj, or NULL. */
static const char *js_member(const char *obj, const char *key, size_t klen)
{
	const char *p = js_ws(obj), *k, *v;

	if (*p != '{')
		return NULL;
	p = js_ws(p + 1);
	while (*p == '"') {
		k = p + 1;
		p = js_skip_str(p);
		if (!p)
			return NULL;
		p = js_ws(p);
		if (*p != ':')
			return NULL;
		v = js_ws(p + 1);
		if ((size_t)(p - k) >= 1 && (size_t)(p - k - 1) == klen &&
		    !strncmp(k, key, klen) && k[klen] == '"')
			return v;
		p = js_next(v);
		if (!p)
			return NULL;
	}
	return NULL;
}

/* The value at dotted @path ("deaths.expired") in @obj, or NULL. */
const char *js_get(const char *obj, const char *path)
{
	const char *v = obj;
	size_t n;

	while (v && *path) {
		n = strcspn(path, ".");
		v = js_member(v, path, n);
		path += n;
		if (*path == '.')
			path++;
	}
	return v;
}

/* A number at @path: 0 and *@out, -1 if absent or not a number. */
int js_num(const char *obj, const char *path, long long *out)
{
	const char *v = js_get(obj, path);

	if (!v || !(isdigit((unsigned char)*v) || *v == '-'))
		return -1;
	*out = strtoll(v, NULL, 10);
	return 0;
}

long long js_num_or(const char *obj, const char *path, long long def)
{
	long long v;

	return js_num(obj, path, &v) ? def : v;
}

/* A string at @path into @buf: 0, or -1. */
int js_str(const char *obj, const char *path, char *buf, size_t len)
{
	const char *v = js_get(obj, path), *e;

	if (!v || *v != '"')
		return -1;
	e = js_skip_str(v);
	if (!e)
		return -1;
	snprintf(buf, len, "%.*s", (int)(e - v - 2), v + 1);
	return 0;
}

/* A boolean at @path: 1, 0, or -1. */
int js_bool(const char *obj, const char *path)
{
	const char *v = js_get(obj, path);

	if (v && !strncmp(v, "true", 4))
		return 1;
	if (v && !strncmp(v, "false", 5))
		return 0;
	return -1;
}

bool js_is_null(const char *obj, const char *path)
{
	const char *v = js_get(obj, path);

	return v && !strncmp(v, "null", 4);
}

/* Element @i of the array at @path, or NULL. */
const char *js_elem(const char *obj, const char *path, int i)
{
	const char *p = js_get(obj, path);

	if (!p || *p != '[')
		return NULL;
	p = js_ws(p + 1);
	if (*p == ']')
		return NULL;
	while (i-- > 0) {
		p = js_next(p);
		if (!p)
			return NULL;
	}
	return p;
}

/* The lines of @text, one at a time: a copy in @line. */
const char *next_line(const char *text, char *line, size_t len)
{
	size_t n;

	if (!text || !*text)
		return NULL;
	n = strcspn(text, "\n");
	snprintf(line, len, "%.*s", (int)n, text);
	return text + n + (text[n] == '\n');
}

int count_lines(const char *text)
{
	char line[1024];
	int n = 0;

	while ((text = next_line(text, line, sizeof(line))))
		n += line[0] != '\0';
	return n;
}

/* ------------------------------------------------------------------ */

/* ---- the reader's stats, as the stats file names its counters ---- */

/* Add counter @name = @v to @s (no more than TW_STATS_MAX). */
void stats_put(struct tw_stats *s, const char *name, long long v)
{
	if (s->n >= TW_STATS_MAX)
		return;
	snprintf(s->name[s->n], sizeof(s->name[0]), "%.39s", name);
	s->val[s->n++] = v;
}

/*
 * A "stat -j" object into the stats file's names; the number of keys it
 * lacks (every reason of every kind must be there).
 */
int stats_from_json(const char *obj, struct tw_stats *s)
{
	static const char * const plain[] = {
		"births", "rearms", "connect_fail", "born_before_load",
		"untracked", "live", "records", "lost", "probe_misses",
		"since_ns", "groups", "groups_max",
	};
	char path[64], name[64];
	const char *e;
	int i, missing = 0;
	long long v;

	s->n = 0;
	for (i = 0; i < (int)ARRAY_SIZE(plain); i++) {
		if (js_num(obj, plain[i], &v))
			missing++;
		else
			stats_put(s, plain[i], v);
	}
	for (i = 0; i < TWTRACE_DEATH_NR; i++) {
		snprintf(path, sizeof(path), "deaths.%s", tw_death_name(i));
		snprintf(name, sizeof(name), "death_%s", tw_death_name(i));
		if (js_num(obj, path, &v))
			missing++;
		else
			stats_put(s, name, v);
	}
	for (i = 0; i < TWTRACE_REUSE_NR; i++) {
		snprintf(path, sizeof(path), "reuse.%s", tw_reuse_name(i));
		snprintf(name, sizeof(name), "reuse_%s", tw_reuse_name(i));
		if (js_num(obj, path, &v))
			missing++;
		else
			stats_put(s, name, v);
	}
	for (i = 0; i < TWTRACE_OVERFLOW_NR; i++) {
		snprintf(path, sizeof(path), "overflows.%s",
			 tw_overflow_name(i));
		snprintf(name, sizeof(name), "overflow_%s",
			 tw_overflow_name(i));
		if (js_num(obj, path, &v))
			missing++;
		else
			stats_put(s, name, v);
	}
	for (i = 0; (e = js_elem(obj, "lost_cpu", i)); i++) {
		snprintf(name, sizeof(name), "lost_cpu%d", i);
		stats_put(s, name, strtoll(e, NULL, 10));
	}
	if (!js_get(obj, "lost_cpu"))
		missing++;
	return missing;
}
