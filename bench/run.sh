#!/bin/sh
# bench/run.sh - measure kontor-idp against the machine's limits and a peer.
#
#   bench/run.sh [--duration S] [--no-peer] [--rows a,b] [--idle N] [--json F]
#                [--profile DIR] [--no-migrate]
#
# Installs what the benchmark needs (Debian: wrk, redis-server, openssl,
# nodejs/npm; npm: the peer, panva's oidc-provider, into bench/.peer/),
# builds the release build (./kontor.sh build Release) and runs
# bench/bench.py, which prints the table, then bench/migrate.sh (the
# migration at 100k and 1M records) unless --no-migrate. Not part of
# ./kontor.sh test.
# See bench/README.md.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# oidc-provider 8.x is the newest major that supports Node.js 20 (Debian 12's
# nodejs is 18; 9.x wants 22 LTS or later).
PEER_VERSION=8.8.1

say() { printf 'bench: %s\n' "$*" >&2; }

missing=""
for p in wrk redis-server openssl python3 util-linux; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
# perf only for --profile (it needs the kernel's perf events, see README)
case " $* " in
*" --profile"*) command -v perf >/dev/null 2>&1 || missing="$missing linux-perf" ;;
esac
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	say "installing Debian packages:$missing"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

peer="$top/bench/.peer"
if [ ! -f "$peer/node_modules/oidc-provider/package.json" ] ||
	! grep -q "\"version\": \"$PEER_VERSION\"" \
		"$peer/node_modules/oidc-provider/package.json"; then
	say "installing oidc-provider@$PEER_VERSION into bench/.peer/"
	mkdir -p "$peer"
	[ -f "$peer/package.json" ] ||
		echo '{"name":"kontor-bench-peer","private":true}' >"$peer/package.json"
	(cd "$peer" && npm install --no-audit --no-fund --save-exact \
		"oidc-provider@$PEER_VERSION" >/dev/null)
fi

say "building the release build"
./kontor.sh build Release >/dev/null

# --no-migrate is ours; everything else is bench.py's.
migrate=1
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	if [ "$a" = --no-migrate ]; then migrate=0; else set -- "$@" "$a"; fi
	n=$((n - 1))
done

python3 "$top/bench/bench.py" --build "$top/build-release" "$@"
case " $* " in
*" -h "* | *" --help "*) exit 0 ;;
esac
if [ "$migrate" = 1 ]; then
	echo
	echo "Migration (bench/migrate.sh):"
	echo
	"$top/bench/migrate.sh" "$top/build-release"
fi
