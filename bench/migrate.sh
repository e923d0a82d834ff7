#!/bin/sh
# bench/migrate.sh - the migration pipeline on generated exports: records/s
# per stage and peak RSS, at 100k and 1M records.
#
#   bench/migrate.sh [BUILD_DIR]
#   SIZES="100000" APPLY_SIZES="" bench/migrate.sh
#
# For each size: generate (not part of the target), import, match (read
# records.jsonl, block, compare, EM, cluster, write) and plan, each a
# separate process; the target is import + match under 60 s for 1M
# records with every process under 2 GiB. Then, for APPLY_SIZES (default
# 100000), apply into a private redis-server and roll back: measured
# separately (a million units take minutes, and their speed is the
# store's). Prints F1, false merges and clusters with conflicting valid
# identifiers against the generator's truth.
#
# Wall-clock rates depend on what else runs on the machine; CPU rates are
# the cost of the work itself. A benchmark, not a test: it checks nothing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-release}
sizes=${SIZES:-"100000 1000000"}
apply_sizes=${APPLY_SIZES-"100000"}

if [ ! -x "$build/kontor-migrate" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKONTOR_WERROR=ON >/dev/null
	cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target kontor-migrate >/dev/null
fi
bin=$build/kontor-migrate
work=$(mktemp -d "${TMPDIR:-/tmp}/kontor-bench-migrate-XXXXXX")
redis_pid=""
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Run a command; print "wall user sys maxrss_kb" of that one child.
measure() {
	out=$1
	shift
	/usr/bin/env python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
with open(sys.argv[1], "w") as out:
    p = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE,
                       text=True)
wall = time.monotonic() - t0
if p.returncode != 0:
    sys.stderr.write(p.stderr)
    sys.exit(p.returncode)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f %.3f %d" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
PY
}

report() { # stage items unit wall user sys rss
	awk -v st="$1" -v n="$2" -v u="$3" -v w="$4" -v us="$5" -v s="$6" -v r="$7" 'BEGIN {
		printf "  %-9s %9d %-7s %7.2f s  %9.0f/s wall  %9.0f/s CPU  peak RSS %6.1f MiB\n",
			st, n, u, w, n / w, n / (us + s), r / 1024 }'
}

echo "kontor-migrate $("$bin" --version | cut -d' ' -f2-) on $(nproc 2>/dev/null || echo '?') CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
for n in $sizes; do
	d=$work/$n
	echo "== $n records"
	set -- $(measure /dev/null "$bin" generate --seed 1 --records "$n" --out "$d" --progress none)
	report generate "$n" rows "$@"
	args=""
	for l in bw by be bb hb hh he mv ni nw rp sl sn st sh th; do
		f=$l.csv
		[ -f "$d/$f" ] || f=$l.jsonl
		args="$args --mapping $d/$l.mapping.json $d/$f"
	done
	# shellcheck disable=SC2086
	set -- $(measure "$d/import.json" "$bin" import $args --out "$d/records.jsonl" \
		--rejects "$d/rejects.csv" --json --progress none)
	report import "$n" rows "$@"
	iw=$1
	irss=$4
	set -- $(measure "$d/match.json" "$bin" match --profile "$top/docs/profiles/company.json" \
		--in "$d/records.jsonl" --truth "$d/truth.csv" --out "$d/pairs.csv" \
		--clusters "$d/clusters.csv" --review "$d/review.csv" --json --progress none)
	report match "$n" records "$@"
	mw=$1
	mrss=$4
	python3 - "$d/import.json" "$d/match.json" "$iw" "$mw" "$irss" "$mrss" <<'PY'
import json, sys
imp = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
n = s["records"]
secs = s["seconds"]
print("    match stages:", ", ".join(
    "%s %.2f s (%.0f/s)" % (k, secs[k], n / secs[k] if secs[k] else 0)
    for k in ("read", "block", "compare", "estimate", "cluster", "write")))
e, c = s["eval"], s["clusters"]
print("    read %d, rejected %d; %d candidate pairs (completeness %.4f); "
      "clusters %d (%d of several records); merges %d; review queue %d"
      % (imp["rows"], imp["rejected"], s["blocking"]["candidate_pairs"],
         s["blocking"]["completeness"], c["count"], c["multi_record"],
         s["decisions"]["merge"], s["review"]["queue"]))
print("    F1 %.4f (precision %.4f, recall %.4f); false merges %d; clusters "
      "with conflicting valid identifiers %d"
      % (e["f1"], e["precision"], e["recall"], e["false_merges"],
         c["conflicting"]))
total = float(sys.argv[3]) + float(sys.argv[4])
rss = max(int(sys.argv[5]), int(sys.argv[6])) / 1024
print("    import + match + cluster: %.1f s wall (target < 60 s at 1M), "
      "peak RSS %.0f MiB (target < 2048)" % (total, rss))
PY
	set -- $(measure "$d/plan.json" "$bin" plan --in "$d/records.jsonl" \
		--clusters "$d/clusters.csv" --out "$d/plan.jsonl" --offline --json --progress none)
	report plan "$n" records "$@"
	for a in $apply_sizes; do
		[ "$a" = "$n" ] || continue
		sock=$work/redis.sock
		redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
			--dir "$work" >/dev/null 2>&1 &
		redis_pid=$!
		i=0
		while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		units=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['merge']['clusters'])" "$d/plan.json")
		set -- $(KONTOR_REDIS_URL="unix://$sock" measure "$d/apply.json" "$bin" apply \
			--plan "$d/plan.jsonl" --json --progress none)
		report apply "$units" units "$@"
		set -- $(KONTOR_REDIS_URL="unix://$sock" measure "$d/apply2.json" "$bin" apply \
			--plan "$d/plan.jsonl" --json --progress none)
		report "re-apply" "$units" units "$@"
		job=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['job_id'])" "$d/apply.json")
		set -- $(KONTOR_REDIS_URL="unix://$sock" measure /dev/null "$bin" rollback \
			"$job" --progress none)
		report rollback "$units" units "$@"
		kill "$redis_pid" 2>/dev/null
		wait "$redis_pid" 2>/dev/null || true
		redis_pid=""
	done
	rm -rf "$d"
done
