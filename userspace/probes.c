// SPDX-License-Identifier: GPL-2.0
/*
 * twtrace probes: which kernel hooks are attached.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

static void probes_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s probes [-j]\n"
		"\n"
		"The kernel hooks the module uses: attached or not, hits, hits the kernel\n"
		"missed, and whether each fires (yes, no: not yet, never: it cannot on this\n"
		"kernel, its function being inlined where it matters). Exits 1 if any hook\n"
		"is not attached or can never fire.\n"
		"\n"
		"  -j, --json   one JSON object per hook\n"
		"  -h, --help\n",
		prog);
}

struct probe {
	char *symbol;
	const char *fires;	/* "yes", "no", "never"; "-" if not told */
	bool attached;
	__u64 hits, missed;
};

static bool fires_word(const char *w)
{
	return !strcmp(w, "yes") || !strcmp(w, "no") || !strcmp(w, "never");
}

static int read_probes(const char *dir, char **buf, struct probe *p, int max,
		       int *count)
{
	char *cur, *line, *tok[5];
	int rc, n = 0, lineno = 0;

	if (tw_read_text(dir, "probes", buf, &rc))
		return rc;
	cur = *buf;
	while ((line = tw_next_line(&cur))) {
		lineno++;
		if (line[0] == '#')
			continue;
		rc = tw_split(line, tok, 5);
		if (!rc)
			continue;
		if (n == max) {
			tw_err("%s/probes: more than %d hooks", dir, max);
			return EXIT_DATA;
		}
		if (rc < 4 || rc > 5 || (strcmp(tok[1], "yes") && strcmp(tok[1], "no")) ||
		    parse_u64(tok[2], &p[n].hits) ||
		    parse_u64(tok[3], &p[n].missed) ||
		    (rc == 5 && !fires_word(tok[4]))) {
			tw_err("%s/probes: line %d: not 'symbol yes|no hits missed [yes|no|never]'",
			       dir, lineno);
			return EXIT_DATA;
		}
		p[n].symbol = tok[0];
		p[n].fires = rc == 5 ? tok[4] : "-";
		p[n].attached = !strcmp(tok[1], "yes");
		n++;
	}
	if (!n) {
		tw_err("%s/probes: no hooks listed", dir);
		return EXIT_DATA;
	}
	*count = n;
	return EXIT_OK;
}

int cmd_probes(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct tw_col cols[] = {
		{ "SYMBOL", 6, false },		/* as wide as the widest */
		{ "ATTACHED", 8, false },
		{ "HITS", 12, true },
		{ "MISSED", 8, true },
		{ "FIRES", 6, false },
	};
	struct probe p[64];
	char *buf = NULL, num[2][24];
	const char *val[ARRAY_SIZE(cols)];
	bool json = false;
	int c, rc, n = 0, i, missing = 0, never = 0;
	__u64 missed = 0;
	const char *dir;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		default:
			rc = opt_err(c, argv, probes_usage);
			return rc == OPT_HELP ? EXIT_OK : rc;
		}
	}
	rc = opt_extra(argc, argv, probes_usage);
	if (rc)
		return rc;
	dir = tw_module(&rc, NULL);
	if (!dir)
		return rc;
	rc = read_probes(dir, &buf, p, 64, &n);
	if (rc) {
		free(buf);
		return rc;
	}
	for (i = 0; i < n; i++)
		if ((int)strlen(p[i].symbol) > cols[0].width)
			cols[0].width = strlen(p[i].symbol);
	if (!json)
		table_row(cols, ARRAY_SIZE(cols), NULL, stdout);
	for (i = 0; i < n; i++) {
		missing += !p[i].attached;
		never += !strcmp(p[i].fires, "never");
		missed += p[i].missed;
		if (json) {
			printf("{\"symbol\":");
			json_str(stdout, p[i].symbol);
			printf(",\"attached\":%s,\"hits\":%llu,\"missed\":%llu,\"fires\":",
			       p[i].attached ? "true" : "false", p[i].hits,
			       p[i].missed);
			json_str(stdout, p[i].fires);
			printf("}\n");
			continue;
		}
		snprintf(num[0], sizeof(num[0]), "%llu", p[i].hits);
		snprintf(num[1], sizeof(num[1]), "%llu", p[i].missed);
		val[0] = p[i].symbol;
		val[1] = p[i].attached ? "yes" : "no";
		val[2] = num[0];
		val[3] = num[1];
		val[4] = p[i].fires;
		table_row(cols, ARRAY_SIZE(cols), val, stdout);
	}
	if (tw_flush()) {
		free(buf);
		return EXIT_ERR;
	}
	if (missed)
		tw_err("note: the kernel missed %llu probe hits (kprobe reentrancy): those events are in no counter",
		       missed);
	rc = EXIT_OK;
	if (missing) {
		fflush(stdout);
		fprintf(stderr, "%s: %d hook%s not attached:", prog, missing,
			missing == 1 ? "" : "s");
		for (i = 0; i < n; i++)
			if (!p[i].attached)
				fprintf(stderr, " %s", p[i].symbol);
		fprintf(stderr,
			" (the kernel log says why: dmesg | grep twtrace)\n");
		rc = EXIT_ERR;
	}
	if (never) {
		fflush(stdout);
		fprintf(stderr, "%s: %d hook%s attached but can never fire on this kernel:",
			prog, never, never == 1 ? "" : "s");
		for (i = 0; i < n; i++)
			if (!strcmp(p[i].fires, "never"))
				fprintf(stderr, " %s", p[i].symbol);
		fprintf(stderr,
			" (inlined where it matters: the events it reports are lost)\n");
		rc = EXIT_ERR;
	}
	free(buf);
	return rc;
}
