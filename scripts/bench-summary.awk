# SPDX-License-Identifier: GPL-2.0
#
# The benchmark's summary of one kernel's runs (scripts/bench.sh): reads
# the guest's JSON (one object a line: the "kernel" header, then a
# "variant" object per run) and prints medians and spreads per variant and
# configuration as a table and the goals (stdout), and as a JSON object
# (file jsonout).  Time ratios are taken within a round (same variant,
# same round) and their median reported, so that slow drifts cancel out.
#
# Usage: awk -v jsonout=SUMMARY.json -f scripts/bench-summary.awk RAW.json
#
# Plain POSIX awk: Debian's default awk is mawk.

function num(s, k,    re, m) {
	re = "\"" k "\":(-?[0-9.]+|null)"
	if (!match(s, re))
		return ""
	m = substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
	return m == "null" ? "" : m + 0
}
function str(s, k,    re) {
	re = "\"" k "\":\"[^\"]*\""
	if (!match(s, re))
		return ""
	return substr(s, RSTART + length(k) + 4, RLENGTH - length(k) - 5)
}
# Sort a[1..n] (insertion sort: mawk has no asort).
function isort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}
# Median, min and max of the values in list l ("v1 v2 ...").
function stats(l, r,    a, n) {
	n = split(l, a, " ")
	r["n"] = n
	if (!n) {
		r["med"] = r["min"] = r["max"] = ""
		return
	}
	isort(a, n)
	r["med"] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	r["min"] = a[1]
	r["max"] = a[n]
}
function add(k, v) {
	if (v != "")
		L[k] = L[k] (L[k] == "" ? "" : " ") v
}
function jf(name, r) {
	if (r["med"] == "")
		return
	printf ",\"%s\":{\"median\":%s,\"min\":%s,\"max\":%s}", name,
	       r["med"], r["min"], r["max"] >jsonout
}
function pow2(n,    p) {
	for (p = 64; p < n; p *= 2)
		;
	return p
}
function verdict(ok) {
	return ok ? "met" : "MISSED"
}
/^\{"kernel"/ {
	ring_kb = num($0, "ring_kb"); ring_pages = num($0, "ring_pages_per_cpu")
	cpus = num($0, "cpus"); dec_n = num($0, "records")
	dec_json = num($0, "json_cpu_us"); dec_text = num($0, "text_cpu_us")
}
/^\{"variant"/ {
	v = str($0, "variant"); c = str($0, "config"); rep = num($0, "rep")
	conns = num($0, "conns"); ns = num($0, "ns")
	if (!(v in seenv)) { seenv[v] = 1; vs[++nv] = v }
	if (!(c in seenc)) { seenc[c] = 1; cs[++nc] = c }
	# the namespace teardown: busy time per TIME_WAIT socket purged
	tw = num($0, "netns_tw"); td = num($0, "teardown_busy_ns")
	if (tw >= 100 && td != "")
		TD[v, c, rep] = td / tw
	if (conns > 0 && ns > 0) {
		T[v, c, rep] = ns / conns
		add(v SUBSEP c SUBSEP "cps", conns / ns * 1e9)
		add(v SUBSEP c SUBSEP "nspc", ns / conns)
	}
	rw = num($0, "records_window")
	add(v SUBSEP c SUBSEP "lost", num($0, "lost"))
	add(v SUBSEP c SUBSEP "misses", num($0, "probe_misses"))
	add(v SUBSEP c SUBSEP "iwi", conns > 0 ? num($0, "iwi_window") / conns : "")
	live = num($0, "live_peak"); so = num($0, "slab_objs_peak")
	sz = num($0, "slab_objsize")
	add(v SUBSEP c SUBSEP "live", live)
	if (live > 0 && so != "") {
		# slab pages of the entries + the rhashtable bucket
		# array (8 bytes a bucket, grown past 75% load)
		add(v SUBSEP c SUBSEP "bps", (so * sz + 8 * pow2(live * 4 / 3)) / live)
		add(v SUBSEP c SUBSEP "slabps", so * sz / live)
	}
	if (rw != "" && conns > 0) {
		add(v SUBSEP c SUBSEP "rpc", rw / conns)
		add(v SUBSEP c SUBSEP "rate", rw / ns * 1e9)
		add(v SUBSEP c SUBSEP "reuse", num($0, "reuse") / conns)
		add(v SUBSEP c SUBSEP "allowed", num($0, "reuse_allowed") / conns)
	}
	# the reader while the storm runs: CPU per record, wake-ups
	rn = num($0, "reader_ns_window")
	add(v SUBSEP c SUBSEP "rlost", num($0, "reader_lost"))
	if (rn != "" && rw > 0) {
		add(v SUBSEP c SUBSEP "cpr", rn / rw)
		add(v SUBSEP c SUBSEP "wpr", num($0, "reader_vcsw_window") / rw * 1000)
		add(v SUBSEP c SUBSEP "util", rn / ns)
		add(v SUBSEP c SUBSEP "scpr", (num($0, "reader_reads_window") + \
			num($0, "reader_writes_window")) / rw)
	}
	if (rep > maxrep)
		maxrep = rep
}
END {
	printf "%-8s %-11s %7s %13s %6s %13s %6s %5s %5s %5s %7s %8s %5s %4s\n",
	       "variant", "config", "conn/s", "(min-max)", "t/conn",
	       "(min-max)", "ovr/fl", "rec/c", "lost", "live",
	       "death+", "rdr ns/r", "wk/kr", "miss"
	first = 1
	printf "{" >jsonout
	for (i = 1; i <= nv; i++) {
		v = vs[i]
		for (j = 1; j <= nc; j++) {
			c = cs[j]
			# per-round ratios to the baseline, overhead vs the floor
			rl = ""; fl = ""; dl = ""
			for (r = 1; r <= maxrep; r++) {
				if ((v, c, r) in TD && (v, "baseline", r) in TD)
					dl = dl " " TD[v, c, r] - TD[v, "baseline", r]
				if (!((v, c, r) in T) || !((v, "baseline", r) in T))
					continue
				b = T[v, "baseline", r]
				rl = rl " " T[v, c, r] / b
				if ((v, "floor", r) in T && T[v, "floor", r] != b)
					fl = fl " " (T[v, c, r] - b) / (T[v, "floor", r] - b)
			}
			stats(rl, R); stats(fl, F); stats(dl, DL)
			stats(L[v, c, "cps"], S); stats(L[v, c, "nspc"], NS)
			stats(L[v, c, "lost"], LO); stats(L[v, c, "live"], LI)
			stats(L[v, c, "rpc"], RP); stats(L[v, c, "cpr"], CP)
			stats(L[v, c, "misses"], MI); stats(L[v, c, "rate"], RA)
			stats(L[v, c, "wpr"], WP); stats(L[v, c, "iwi"], IW)
			stats(L[v, c, "reuse"], RU); stats(L[v, c, "allowed"], AL)
			stats(L[v, c, "bps"], BP); stats(L[v, c, "slabps"], SB)
			stats(L[v, c, "rlost"], RL); stats(L[v, c, "util"], UT)
			stats(L[v, c, "scpr"], SC)
			ofl = (c == "baseline" || c == "floor" || F["med"] == "") ? "-" : \
			      sprintf("%.2f", F["med"])
			printf "%-8s %-11s %7.0f %13s %6s %13s %6s %5s %5s %5s %7s %8s %5s %4s\n",
			       v, c, S["med"],
			       sprintf("(%.0f-%.0f)", S["min"], S["max"]),
			       R["med"] == "" ? "-" : sprintf("%.3f", R["med"]),
			       R["med"] == "" ? "" : sprintf("(%.3f-%.3f)", R["min"], R["max"]),
			       ofl,
			       RP["med"] == "" ? "-" : sprintf("%.2f", RP["med"]),
			       LO["med"] == "" ? "-" : sprintf("%d", LO["max"]),
			       LI["med"] == "" ? "-" : sprintf("%d", LI["max"]),
			       DL["med"] == "" || c == "baseline" ? "-" : sprintf("%.0f", DL["med"]),
			       CP["med"] == "" ? "-" : sprintf("%.0f", CP["med"]),
			       WP["med"] == "" ? "-" : sprintf("%.0f", WP["med"]),
			       MI["med"] == "" ? "-" : sprintf("%d", MI["max"])
			printf "%s\"%s/%s\":{\"runs\":%d", first ? "" : ",", v, c, S["n"] >jsonout
			first = 0
			jf("conns_per_s", S); jf("ns_per_conn", NS)
			jf("ratio_to_baseline", R); jf("overhead_vs_floor", F)
			jf("death_extra_ns_per_socket", DL)
			jf("records_per_conn", RP); jf("records_per_s", RA)
			jf("lost", LO); jf("reader_lost", RL); jf("live_peak", LI)
			jf("table_bytes_per_socket", BP)
			jf("slab_bytes_per_socket", SB)
			jf("reader_cpu_ns_per_record", CP)
			jf("reader_wakeups_per_1000_records", WP)
			jf("reader_cpu_share", UT)
			jf("reader_read_write_syscalls_per_record", SC)
			jf("irq_work_per_conn", IW); jf("probe_misses", MI)
			jf("reuse_decisions_per_conn", RU)
			jf("reuse_allowed_per_conn", AL)
			printf "}" >jsonout
			# what the goals look at
			G[v, c, "ratio"] = R["med"]; G[v, c, "rmin"] = R["min"]
			G[v, c, "rmax"] = R["max"]; G[v, c, "fl"] = F["med"]
			G[v, c, "lost"] = LO["max"]; G[v, c, "rate"] = RA["max"]
			G[v, c, "cpr"] = CP["med"]; G[v, c, "bps"] = BP["max"]
			G[v, c, "slabps"] = SB["max"]; G[v, c, "live"] = LI["max"]
			G[v, c, "util"] = UT["max"]
		}
	}
	printf "}" >jsonout

	print ""
	print "goals (median of per-round ratios; see Documentation/benchmark.rst):"
	for (i = 1; i <= nv; i++) {
		v = vs[i]
		if (G[v, "reader_bin", "ratio"] != "")
			printf "  %-8s reader_bin t/conn %.3f <= 1.05x baseline: %s; overhead %.2fx the floor <= 1.5x: %s\n",
			       v, G[v, "reader_bin", "ratio"],
			       verdict(G[v, "reader_bin", "ratio"] <= 1.05),
			       G[v, "reader_bin", "fl"],
			       verdict(G[v, "reader_bin", "fl"] != "" && G[v, "reader_bin", "fl"] <= 1.5)
	}
	for (i = 1; i <= nv; i++) {
		v = vs[i]
		if (G[v, "reader_bin", "lost"] == "")
			continue
		printf "  %-8s lost records, reader draining: bin %d, json %s, drain_timer %s (goal 0): %s\n",
		       v, G[v, "reader_bin", "lost"],
		       G[v, "reader_json", "lost"] == "" ? "-" : G[v, "reader_json", "lost"],
		       G[v, "drain_timer", "lost"] == "" ? "-" : G[v, "drain_timer", "lost"],
		       verdict(G[v, "reader_bin", "lost"] == 0 && G[v, "reader_json", "lost"] + 0 == 0)
	}
	if (G["plain", "loaded", "bps"] != "")
		printf "  live table: %.1f bytes per socket at %d sockets (%.1f slab entry + bucket array) <= 80: %s\n",
		       G["plain", "loaded", "bps"], G["plain", "loaded", "live"],
		       G["plain", "loaded", "slabps"],
		       verdict(G["plain", "loaded", "bps"] <= 80)
	if (ring_pages != "")
		printf "  rings: ring_kb %d = %d pages (%d KiB) + %d KiB of page descriptors per CPU <= 1024 KiB: %s\n",
		       ring_kb, ring_pages, ring_pages * 4, ring_pages * 64 / 1024,
		       verdict(ring_pages * 4 + ring_pages * 64 / 1024 <= 1024)
	for (i = 1; i <= nv; i++) {
		v = vs[i]
		if (G[v, "reader_json", "cpr"] == "" || G[v, "reader_json", "rate"] == "")
			continue
		cap = 1e9 / G[v, "reader_json", "cpr"]
		printf "  %-8s reader -j keeps up: %.0f records/s a CPU vs %.0f produced (%.1fx, busiest run %.0f%% of a CPU): %s\n",
		       v, cap, G[v, "reader_json", "rate"],
		       cap / G[v, "reader_json", "rate"],
		       G[v, "reader_json", "util"] * 100,
		       verdict(G[v, "reader_json", "util"] < 1)
	}
	if (dec_n > 0)
		printf "  decoding a recording: -j %.0f ns/record, text %.0f ns/record\n",
		       dec_json * 1000 / dec_n, dec_text * 1000 / dec_n
}
