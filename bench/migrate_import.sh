#!/bin/sh
# bench/migrate_import.sh - generate and import synthetic Länder exports of
# 100k and 1M records; print records/s and peak RSS for each stage.
#
#   bench/migrate_import.sh [BUILD_DIR] [SIZES]
#
# BUILD_DIR defaults to build-release (built here in Release mode if it has
# no kontor-migrate yet); SIZES defaults to "100000 1000000". Data goes to a
# temporary directory that is removed afterwards (about 1.4 GB for 1M).
#
# Rates are given twice: against wall-clock time and against CPU time
# (user + system). On a shared machine the wall-clock rate depends on what
# else runs; the CPU rate is the cost of the work itself. The import's wall
# time includes writing records.jsonl (about 1 KB per record) and its fsync.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-release}
sizes=${2:-"100000 1000000"}

if [ ! -x "$build/kontor-migrate" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKONTOR_WERROR=ON >/dev/null
	cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target kontor-migrate >/dev/null
fi
bin=$build/kontor-migrate
work=$(mktemp -d "${TMPDIR:-/tmp}/kontor-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# Run a command, print "wall user sys maxrss_kb" (Python: no dependency on
# GNU time, and ru_maxrss of the one child we ran).
measure() {
	/usr/bin/env python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, text=True)
wall = time.monotonic() - t0
if p.returncode != 0:
    sys.stderr.write(p.stderr)
    sys.exit(p.returncode)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f %.3f %d" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
PY
}

report() { # stage records wall user sys rss
	awk -v st="$1" -v n="$2" -v w="$3" -v u="$4" -v s="$5" -v r="$6" 'BEGIN {
		printf "%-9s %9d records  %7.2f s  %9.0f records/s wall  %9.0f records/s CPU  peak RSS %6.1f MiB\n",
			st, n, w, n / w, n / (u + s), r / 1024 }'
}

echo "kontor-migrate $("$bin" --version | cut -d' ' -f2-) on $(nproc 2>/dev/null || echo '?') CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
for n in $sizes; do
	d=$work/$n
	set -- $(measure "$bin" generate --seed 1 --records "$n" --out "$d" --progress none)
	report generate "$n" "$@"
	args=""
	for l in bw by be bb hb hh he mv ni nw rp sl sn st sh th; do
		f=$l.csv
		[ -f "$d/$f" ] || f=$l.jsonl
		args="$args --mapping $d/$l.mapping.json $d/$f"
	done
	# shellcheck disable=SC2086
	set -- $(measure "$bin" import $args --out "$d/records.jsonl" \
		--rejects "$d/rejects.csv" --progress none)
	report import "$n" "$@"
	rm -rf "$d"
done
