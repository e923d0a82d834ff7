#!/bin/sh
# scripts/seed-demo.sh BUILD_DIR CONFIG — the demo's companies and person,
# migrated with kontor-migrate from the small exports in demo/exports, the
# way an admin migrates the Länder's accounts: import -> match -> plan ->
# apply (docs/migration.md). Run on every start (scripts/demo.sh,
# docker/entrypoint.sh): the plan is the same each time, so apply finds
# every unit done and changes nothing.
#
#   demo@example.com / kontor-demo (a legacy scrypt hash from the SH export,
#   upgraded at the first login), acting for two companies:
#   admin of Muster Maschinenbau GmbH (exported by SH and HH: merged into
#   one account), representative of Bäckerei Sonnenschein e.K. (HH)
set -eu

build=$1
config=$2
top=$(cd "$(dirname "$0")/.." && pwd)
exports=$top/demo/exports
work=$(dirname "$config")/migrate

say() { printf 'kontor: %s\n' "$*" >&2; }

# Quiet unless a step fails: then its output explains why.
step() {
	name=$1
	shift
	if ! "$build/kontor-migrate" "$@" >"$work/$name.log" 2>&1; then
		say "seeding the demo failed at '$name':"
		cat "$work/$name.log" >&2
		exit 1
	fi
}

mkdir -p "$work"
chmod 700 "$work"
step import import \
	--mapping "$exports/sh.mapping.json" "$exports/sh.csv" \
	--mapping "$exports/hh.mapping.json" "$exports/hh.csv" \
	--out "$work/records.jsonl" --rejects "$work/rejects.csv" \
	--progress none
# Three records are too few for EM to learn weights from: the model
# shipped with the profile (trained on generated exports) scores them.
step match match --profile "$top/docs/profiles/company.json" \
	--model "$top/docs/profiles/company.model.json" \
	--in "$work/records.jsonl" --clusters "$work/clusters.csv" \
	--progress none
step plan plan --in "$work/records.jsonl" --clusters "$work/clusters.csv" \
	--out "$work/plan.jsonl" --offline --progress none
step apply apply --plan "$work/plan.jsonl" --config "$config" \
	--progress none
