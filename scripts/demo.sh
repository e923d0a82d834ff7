#!/bin/sh
# scripts/demo.sh BUILD_DIR — the demo behind `./kontor.sh run`.
#
# Starts (in the foreground, Ctrl-C stops everything):
#   - a private redis-server on a unix socket under var/redis (unless
#     KONTOR_REDIS_URL names one), append-only persistence on;
#   - kontor-idp on http://127.0.0.1:${KONTOR_PORT:-8080};
#   - the demo portal on http://127.0.0.1:${KONTOR_DEMO_PORT:-8081}.
# Signing keys are generated into keys/ on first run; the demo account and
# the portal's client secret are created on first run and kept in var/.
set -eu

build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
idp="$build/kontor-idp"
portal="$build/kontor-demo-portal"
port=${KONTOR_PORT:-8080}
portal_port=${KONTOR_DEMO_PORT:-8081}
issuer="http://127.0.0.1:$port"
portal_url="http://127.0.0.1:$portal_port"
var="$top/var"
pids=""

say() { printf 'kontor: %s\n' "$*" >&2; }

cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkdir -p "$var/redis" "$var/demo" "$var/log"
chmod 700 "$var"

# Redis: a private instance unless one is configured.
redis_url=${KONTOR_REDIS_URL:-}
if [ -z "$redis_url" ]; then
	sock="$var/redis/redis.sock"
	redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
		--dir "$var/redis" --appendonly yes --save '' \
		--logfile "$var/log/redis.log" &
	pids="$pids $!"
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { say "redis-server did not start (see var/log/redis.log)"; exit 1; }
		sleep 0.05
	done
	redis_url="unix://$sock"
fi

# Signing keys: generated once, never committed.
if [ ! -f "$top/keys/keyset.json" ]; then
	say "generating signing keys into keys/"
	"$idp" keys generate --dir "$top/keys" >/dev/null 2>>"$var/log/kontor-idp.log"
fi

# The portal's client secret: random, generated once.
secret_file="$var/demo/portal.secret"
if [ ! -s "$secret_file" ]; then
	umask 077
	openssl rand -hex 32 >"$secret_file"
fi
secret=$(cat "$secret_file")

config="$var/demo/kontor.json"
cat >"$config" <<EOF
{
  "issuer": "$issuer",
  "listen": { "address": "127.0.0.1", "port": $port },
  "redis": { "url": "$redis_url" },
  "keys": { "dir": "$top/keys" },
  "dev": { "allow_http_loopback": true },
  "registration": {
    "enabled": true,
    "initial_access_tokens": [ "demo-registration-token" ]
  },
  "clients": [
    {
      "client_id": "demo-portal",
      "client_name": "Demo-Serviceportal",
      "client_secret": "$secret",
      "token_endpoint_auth_method": "client_secret_basic",
      "redirect_uris": [ "$portal_url/protected/redirect_uri" ],
      "post_logout_redirect_uris": [ "$portal_url/" ],
      "grant_types": [ "authorization_code", "refresh_token" ],
      "scope": "openid profile email company company_identifiers",
      "skip_consent": true
    }
  ]
}
EOF
chmod 600 "$config"
"$idp" --check-config --config "$config" >/dev/null

"$top/scripts/seed-demo.sh" "$build" "$config"

"$idp" --config "$config" 2>>"$var/log/kontor-idp.log" &
idp_pid=$!
pids="$pids $idp_pid"
i=0
until curl -fsS "$issuer/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$idp_pid" 2>/dev/null; then
		say "kontor-idp did not start; last log lines:"
		tail -n 20 "$var/log/kontor-idp.log" >&2
		exit 1
	fi
	sleep 0.1
done

if [ -x "$portal" ]; then
	KONTOR_DEMO_CLIENT_SECRET=$secret "$portal" --port "$portal_port" \
		--issuer "$issuer" --client-id demo-portal \
		--redirect-uri "$portal_url/protected/redirect_uri" \
		--scope "openid profile email company company_identifiers" \
		2>>"$var/log/demo-portal.log" &
	pids="$pids $!"
fi

cat <<EOF

  kontor is running.

  Demo portal (log in here):   $portal_url/
  Gateway (OpenID provider):   $issuer/
  Discovery document:          $issuer/.well-known/openid-configuration

  Demo account:                demo@example.com / kontor-demo
                               (acts for two companies: choose one)
  Dynamic registration token:  demo-registration-token
                               (demo configuration only)

  Logs: var/log/   Configuration: var/demo/kontor.json
  Press Ctrl-C to stop.

EOF
wait "$idp_pid"
