#!/bin/sh
# kontor.sh - the one entry point for a fresh Debian 12 machine.
#
#   ./kontor.sh run     install what is missing, build, start Redis, the
#                       gateway and the demo portal (foreground; Ctrl-C stops)
#   ./kontor.sh test    install what is missing, build, run every test
#   ./kontor.sh test-sanitize   unit tests under ASan + UBSan (used by CI)
#   ./kontor.sh deps    only install the Debian packages
#   ./kontor.sh build [Debug|Release|Sanitize]
#
# Everything it creates lives under the project: build*/ for builds, var/ for
# Redis data, generated demo configuration and logs, keys/ for signing keys.
set -eu

top=$(cd "$(dirname "$0")" && pwd)
cd "$top"

# Debian packages the project needs. Build and run first, test-only after.
PKGS_BUILD="build-essential cmake pkg-config libevent-dev libhiredis-dev
libjansson-dev libssl-dev liboauth2-dev libcjose-dev libcurl4-openssl-dev
libcmocka-dev libqrencode-dev libcrypt-dev redis-server openssl ca-certificates
curl"
PKGS_TEST="python3 python3-requests python3-authlib apache2
libapache2-mod-auth-openidc"

say() { printf 'kontor: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_root_for_apt() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null 2>&1 || die "missing packages and not root: install $* first"
	echo sudo
}

# Install only what is missing, so a second run costs one dpkg-query.
ensure_pkgs() {
	missing=""
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in
		*" installed") ;;
		*) missing="$missing $p" ;;
		esac
	done
	[ -z "$missing" ] && return 0
	say "installing Debian packages:$missing"
	sudo_cmd=$(need_root_for_apt "$missing") || exit 1
	export DEBIAN_FRONTEND=noninteractive
	$sudo_cmd apt-get update -qq
	# shellcheck disable=SC2086
	$sudo_cmd apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() {
	type=${1:-Debug}
	dir=build
	[ "$type" = Debug ] || dir="build-$(echo "$type" | tr 'A-Z' 'a-z')"
	jobs=$(nproc 2>/dev/null || echo 2)
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DKONTOR_WERROR=ON >/dev/null
	cmake --build "$dir" -j "$jobs"
	BUILD_DIR=$dir
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
deps)
	# shellcheck disable=SC2086
	ensure_pkgs $PKGS_BUILD $PKGS_TEST
	;;
build)
	# shellcheck disable=SC2086
	ensure_pkgs $PKGS_BUILD
	build "${1:-Debug}"
	;;
run)
	# shellcheck disable=SC2086
	ensure_pkgs $PKGS_BUILD
	build Release
	exec "$top/scripts/demo.sh" "$top/$BUILD_DIR" "$@"
	;;
test)
	# shellcheck disable=SC2086
	ensure_pkgs $PKGS_BUILD $PKGS_TEST
	build Debug
	cd "$BUILD_DIR"
	ctest --output-on-failure -j 2 "$@"
	;;
test-sanitize)
	# shellcheck disable=SC2086
	ensure_pkgs $PKGS_BUILD $PKGS_TEST
	build Sanitize
	cd "$BUILD_DIR"
	ctest --output-on-failure -j 2 "$@"
	;;
help | -h | --help)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	;;
*)
	die "unknown command '$cmd' (try ./kontor.sh help)"
	;;
esac
