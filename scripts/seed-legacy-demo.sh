#!/bin/sh
# scripts/seed-legacy-demo.sh BUILD_DIR CONFIG — the accounts of the demo's
# stand-in for Schleswig-Holstein's legacy provider. Idempotent.
#   nord@example.com / kontor-demo  Nordlicht Fischerei GmbH: unknown to
#                                   kontor, created on the first login
#   kiel@example.com / kontor-demo  Muster Maschinenbau GmbH, the VAT id of
#                                   the unified demo company: proof of
#                                   control links it to demo@example.com
set -eu

build=$1
config=$2

say() { printf 'kontor: %s\n' "$*" >&2; }
admin() { "$build/kontor-admin" --config "$config" --actor legacy-demo "$@"; }

legacy_account() { # email, name, source, then 'org create' options
	email=$1
	name=$2
	src=$3
	shift 3
	KT_DEMO_PW=kontor-demo "$build/kontor-idp" user add --config "$config" \
		--email "$email" --name "$name" --verified \
		--password-env KT_DEMO_PW --exists-ok --allow-weak-password >/dev/null
	admin org find --source "$src" >/dev/null 2>&1 && return 0
	id=$(admin org create --source "$src" "$@" |
		sed -n 's/^created organisation \([^ ]*\).*/\1/p')
	[ -n "$id" ] || { say "cannot create the legacy demo company ($src)"; exit 1; }
	admin member add "$id" "$email" --role admin >/dev/null
}

legacy_account nord@example.com "Nora Nordlicht" SH:legacy-1 \
	--legal-name "Nordlicht Fischerei" --legal-form GmbH --vat DE811128135 \
	--street Hafenstraße --house-number 3 --postcode 24937 --city Flensburg
legacy_account kiel@example.com "Karl Kieler" SH:legacy-2 \
	--legal-name "Muster Maschinenbau" --legal-form GmbH --vat DE123456788 \
	--street Holstenstraße --house-number 12 --postcode 24103 --city Kiel
