#!/bin/sh
# Matcher benchmark: generate a synthetic company table, then time
# `kontor-migrate match` on it (read, block, compare, estimate, cluster,
# write) and report records/s per stage, peak RSS, candidate pairs, pair
# completeness and F1 against the generator's truth.
#
#     bench/match.sh                 # 100k and 1M records
#     SIZES="20000" bench/match.sh   # other sizes
#     BUILD=build-rel THREADS=2 bench/match.sh
#
# A benchmark, not a test: it checks nothing. docs/matching.md quotes it.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
PROFILE=${PROFILE:-docs/profiles/company.json}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DKONTOR_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target bench_match kontor-migrate >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
for n in ${SIZES:-100000 1000000}; do
	"$BUILD/bench/bench_match" generate "$n" "$TMP/records.tsv" "$TMP/truth.csv"
	"$BUILD/kontor-migrate" match --profile "$PROFILE" \
		--in "$TMP/records.tsv" --truth "$TMP/truth.csv" \
		--out "$TMP/pairs.csv" --clusters "$TMP/clusters.csv" \
		${THREADS:+--threads "$THREADS"} --json >"$TMP/summary.json"
	python3 - "$TMP/summary.json" "$(du -m "$TMP/records.tsv" | cut -f1)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = s["records"]
secs = s["seconds"]
order = ["read", "block", "compare", "estimate", "cluster", "write"]
total = sum(secs[k] for k in order)
print("\n== %d records (%s MiB TSV), %d threads" % (n, sys.argv[2], s["threads"]))
print("  %-10s %9s %14s" % ("stage", "seconds", "records/s"))
for k in order + ["total"]:
    t = total if k == "total" else secs[k]
    print("  %-10s %9.2f %14.0f" % (k, t, n / t if t > 0 else 0))
print("  peak RSS %d MiB" % s["peak_rss_mib"])
b = s["blocking"]
print("  %-24s %10s %10s %12s" % ("pass", "produced", "new", "completeness"))
for p in b["passes"]:
    print("  %-24s %10d %10d %12.4f" % (p["name"], p["produced"], p["new"],
                                        p["completeness"]))
print("  %-24s %10d %10s %12.4f" % ("all passes", b["candidate_pairs"], "",
                                    b["completeness"]))
e = s["eval"]
print("  precision %.4f  recall %.4f  F1 %.4f  false merges %d  "
      "conflicting clusters %d" % (e["precision"], e["recall"], e["f1"],
                                   e["false_merges"],
                                   s["clusters"]["conflicting"]))
PY
done
