#!/bin/sh
# Container entry point: "gateway", "legacy" or "portal". Runs the demo of
# scripts/demo.sh, one process per container, with Redis in its own
# container (compose.yaml); the configurations come from the same
# scripts/demo-config.sh.
set -eu
top=/opt/kontor
build=$top/build-release
var=$top/var
keys=$top/keys
port=${KONTOR_PORT:-8080}
portal_port=${KONTOR_DEMO_PORT:-8081}
legacy_port=${KONTOR_LEGACY_PORT:-8082}
issuer=${KONTOR_ISSUER:-http://127.0.0.1:$port}
portal_url=${KONTOR_PORTAL_URL:-http://127.0.0.1:$portal_port}
legacy_url=${KONTOR_LEGACY_URL:-http://127.0.0.1:$legacy_port}
redis_url=${KONTOR_REDIS_URL:-redis://127.0.0.1:6379/0}
# The legacy provider is another state's system: its own Redis database.
legacy_redis_url=${KONTOR_LEGACY_REDIS_URL:-redis://127.0.0.1:6379/1}
legacy_keys=$var/legacy-sh/keys
export build top var issuer port redis_url keys portal_url legacy_url \
	legacy_port legacy_redis_url legacy_keys
mkdir -p "$var/demo"

case "${1:-gateway}" in
gateway)
	[ -f "$keys/keyset.json" ] || "$build/kontor-idp" keys generate --dir "$keys"
	config=$var/demo/kontor.json
	"$top/scripts/demo-config.sh" gateway "$config"
	"$top/scripts/seed-demo.sh" "$build" "$config"
	exec "$build/kontor-idp" --config "$config"
	;;
legacy)
	[ -f "$legacy_keys/keyset.json" ] ||
		"$build/kontor-idp" keys generate --dir "$legacy_keys"
	config=$var/demo/legacy-sh.json
	"$top/scripts/demo-config.sh" legacy "$config"
	env -u KONTOR_PORT -u KONTOR_REDIS_URL \
		"$top/scripts/seed-legacy-demo.sh" "$build" "$config"
	exec env -u KONTOR_PORT -u KONTOR_REDIS_URL \
		"$build/kontor-idp" --config "$config"
	;;
portal)
	# The gateway container writes the secret; wait for it.
	i=0
	while [ ! -s "$var/demo/portal.secret" ] && [ $i -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	KONTOR_DEMO_CLIENT_SECRET=$(cat "$var/demo/portal.secret")
	export KONTOR_DEMO_CLIENT_SECRET
	exec "$build/kontor-demo-portal" --port "$portal_port" --issuer "$issuer" \
		--client-id demo-portal --redirect-uri "$portal_url/protected/redirect_uri" \
		--scope "openid profile email company company_identifiers"
	;;
*)
	exec "$@"
	;;
esac
