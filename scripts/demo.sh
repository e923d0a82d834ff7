#!/bin/sh
# scripts/demo.sh BUILD_DIR — the demo behind `./kontor.sh run`.
#
# Starts (in the foreground, Ctrl-C stops everything):
#   - a private redis-server on a unix socket under var/redis (unless
#     KONTOR_REDIS_URL names one), append-only persistence on;
#   - kontor-idp on http://127.0.0.1:${KONTOR_PORT:-8080};
#   - the demo portal on http://127.0.0.1:${KONTOR_DEMO_PORT:-8081};
#   - a stand-in for Schleswig-Holstein's legacy company-account provider
#     on http://127.0.0.1:${KONTOR_LEGACY_PORT:-8082} (a second kontor-idp
#     with its own Redis and its own accounts), federated from the gateway,
#     so that linking a legacy account can be watched end to end.
# Signing keys are generated into keys/ on first run; the demo accounts and
# the client secrets are created on first run and kept in var/.
# KONTOR_VAR_DIR and KONTOR_KEYS_DIR move var/ and keys/ (the tests do).
set -eu

build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
idp="$build/kontor-idp"
portal="$build/kontor-demo-portal"
port=${KONTOR_PORT:-8080}
portal_port=${KONTOR_DEMO_PORT:-8081}
legacy_port=${KONTOR_LEGACY_PORT:-8082}
issuer="http://127.0.0.1:$port"
portal_url="http://127.0.0.1:$portal_port"
legacy_url="http://127.0.0.1:$legacy_port"
var=${KONTOR_VAR_DIR:-$top/var}
keys=${KONTOR_KEYS_DIR:-$top/keys}
pids=""

say() { printf 'kontor: %s\n' "$*" >&2; }

cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkdir -p "$var/redis" "$var/demo" "$var/log" "$var/legacy-sh/redis"
chmod 700 "$var"

# A private redis-server on a unix socket in directory $1, log name $2.
start_redis() {
	sock="$1/redis.sock"
	redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
		--dir "$1" --appendonly yes --save '' \
		--logfile "$var/log/$2.log" &
	pids="$pids $!"
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { say "redis-server did not start (see $var/log/$2.log)"; exit 1; }
		sleep 0.05
	done
}

# Redis: a private instance unless one is configured.
redis_url=${KONTOR_REDIS_URL:-}
if [ -z "$redis_url" ]; then
	start_redis "$var/redis" redis
	redis_url="unix://$var/redis/redis.sock"
fi
# The legacy provider is another state's system: its own Redis, always.
start_redis "$var/legacy-sh/redis" redis-legacy-sh

# Signing keys: generated once, never committed.
if [ ! -f "$keys/keyset.json" ]; then
	say "generating signing keys into $keys/"
	"$idp" keys generate --dir "$keys" >/dev/null 2>>"$var/log/kontor-idp.log"
fi
if [ ! -f "$var/legacy-sh/keys/keyset.json" ]; then
	"$idp" keys generate --dir "$var/legacy-sh/keys" >/dev/null \
		2>>"$var/log/legacy-sh.log"
fi

# The configurations (client secrets generated once into var/demo/).
legacy_redis_url="unix://$var/legacy-sh/redis/redis.sock"
legacy_keys="$var/legacy-sh/keys"
config="$var/demo/kontor.json"
legacy_config="$var/demo/legacy-sh.json"
export build top var issuer port redis_url keys portal_url legacy_url \
	legacy_port legacy_redis_url legacy_keys
"$top/scripts/demo-config.sh" gateway "$config"
"$top/scripts/demo-config.sh" legacy "$legacy_config"
secret=$(cat "$var/demo/portal.secret")

"$top/scripts/seed-demo.sh" "$build" "$config"
# (the KONTOR_* overrides are meant for the gateway, never for the legacy
# provider: the configuration files already carry the chosen values)
env -u KONTOR_PORT -u KONTOR_REDIS_URL \
	"$top/scripts/seed-legacy-demo.sh" "$build" "$legacy_config"

# Wait until process $1 answers at URL $2; else show its log $3 and stop.
wait_up() {
	i=0
	until curl -fsS "$2" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$1" 2>/dev/null; then
			say "$(basename "$3" .log) did not start; last log lines:"
			tail -n 20 "$3" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# Start a kontor-idp ($1 config, $2 log name, $3 base URL), wait for it.
start_idp() {
	env -u KONTOR_PORT -u KONTOR_REDIS_URL \
		"$idp" --config "$1" 2>>"$var/log/$2.log" &
	last_pid=$!
	pids="$pids $last_pid"
	wait_up "$last_pid" "$3/healthz" "$var/log/$2.log"
}
start_idp "$legacy_config" legacy-sh "$legacy_url"
start_idp "$config" kontor-idp "$issuer"
idp_pid=$last_pid

if [ -x "$portal" ]; then
	KONTOR_DEMO_CLIENT_SECRET=$secret "$portal" --port "$portal_port" \
		--issuer "$issuer" --client-id demo-portal \
		--redirect-uri "$portal_url/protected/redirect_uri" \
		--scope "openid profile email company company_identifiers" \
		2>>"$var/log/demo-portal.log" &
	pids="$pids $!"
	wait_up "$!" "$portal_url/" "$var/log/demo-portal.log"
fi

cat <<EOF

  kontor is running.

  Demo portal (log in here):   $portal_url/
  Gateway (OpenID provider):   $issuer/
  Discovery document:          $issuer/.well-known/openid-configuration

  Demo account:                demo@example.com / kontor-demo
                               (acts for two companies: choose one)

  Legacy provider (SH, demo):  $legacy_url/
    On the login page choose "Unternehmenskonto Schleswig-Holstein":
    nord@example.com / kontor-demo   new to kontor: the account and its
                                     company are created from the claims
    kiel@example.com / kontor-demo   same company (VAT id) as the demo
                                     account: sign in as demo@example.com
                                     once to link the two
  Dynamic registration token:  demo-registration-token
                               (demo configuration only)

  Logs: $var/log/   Configuration: $var/demo/kontor.json
  Press Ctrl-C to stop.

EOF
wait "$idp_pid"
