#!/bin/sh
# Container entry point: "gateway" or "portal". Mirrors scripts/demo.sh, with
# Redis in its own container (KONTOR_REDIS_URL, set by compose.yaml).
set -eu
top=/opt/kontor
build=$top/build-release
port=${KONTOR_PORT:-8080}
portal_port=${KONTOR_DEMO_PORT:-8081}
issuer=${KONTOR_ISSUER:-http://127.0.0.1:$port}
portal_url=${KONTOR_PORTAL_URL:-http://127.0.0.1:$portal_port}
mkdir -p "$top/var/demo"
secret_file=$top/var/demo/portal.secret
[ -s "$secret_file" ] || (umask 077; openssl rand -hex 32 >"$secret_file")
secret=$(cat "$secret_file")

case "${1:-gateway}" in
gateway)
	[ -f "$top/keys/keyset.json" ] || "$build/kontor-idp" keys generate --dir "$top/keys"
	config=$top/var/demo/kontor.json
	cat >"$config" <<JSON
{
  "issuer": "$issuer",
  "listen": { "address": "127.0.0.1", "port": $port },
  "redis": { "url": "${KONTOR_REDIS_URL:-redis://127.0.0.1:6379/0}" },
  "keys": { "dir": "$top/keys" },
  "dev": { "allow_http_loopback": true },
  "registration": { "enabled": true, "initial_access_tokens": [ "demo-registration-token" ] },
  "clients": [ {
      "client_id": "demo-portal", "client_name": "Demo-Serviceportal",
      "client_secret": "$secret",
      "redirect_uris": [ "$portal_url/protected/redirect_uri" ],
      "post_logout_redirect_uris": [ "$portal_url/" ],
      "grant_types": [ "authorization_code", "refresh_token" ],
      "scope": "openid profile email company company_identifiers",
      "skip_consent": true } ]
}
JSON
	"$top/scripts/seed-demo.sh" "$build" "$config"
	exec "$build/kontor-idp" --config "$config"
	;;
portal)
	export KONTOR_DEMO_CLIENT_SECRET="$secret"
	exec "$build/kontor-demo-portal" --port "$portal_port" --issuer "$issuer" \
		--client-id demo-portal --redirect-uri "$portal_url/protected/redirect_uri" \
		--scope "openid profile email company company_identifiers"
	;;
*)
	exec "$@"
	;;
esac
