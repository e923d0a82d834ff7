#!/bin/sh
# scripts/seed-demo.sh BUILD_DIR CONFIG — the demo's people and companies.
# Idempotent: run it on every start (scripts/demo.sh, docker/entrypoint.sh).
#   demo@example.com / kontor-demo, acting for two companies:
#   admin of Muster Maschinenbau GmbH, representative of Bäckerei Sonnenschein
set -eu

build=$1
config=$2

say() { printf 'kontor: %s\n' "$*" >&2; }

KT_DEMO_PW=kontor-demo "$build/kontor-idp" user add --config "$config" \
	--email demo@example.com --name "Demo Nutzerin" --verified \
	--password-env KT_DEMO_PW --exists-ok --allow-weak-password >/dev/null

admin() { "$build/kontor-admin" --config "$config" --actor demo "$@"; }

# Companies are found again by their source links on later runs.
demo_org() { # source, role, then 'org create' options
	src=$1
	role=$2
	shift 2
	admin org find --source "$src" >/dev/null 2>&1 && return 0
	id=$(admin org create --source "$src" "$@" |
		sed -n 's/^created organisation \([^ ]*\).*/\1/p')
	[ -n "$id" ] || { say "cannot create the demo company ($src)"; exit 1; }
	admin member add "$id" demo@example.com --role "$role" >/dev/null
}

demo_org SH:demo-1 admin --legal-name "Muster Maschinenbau" --legal-form GmbH \
	--vat DE123456788 --register "HRB 1234, Amtsgericht Kiel" \
	--street Holstenstraße --house-number 12 --postcode 24103 --city Kiel
demo_org HH:demo-2 representative --legal-name "Bäckerei Sonnenschein" \
	--legal-form e.K. --street Elbchaussee --house-number 5 \
	--postcode 22763 --city Hamburg
