#!/bin/sh
# scripts/demo-config.sh gateway|legacy FILE — write the demo's configuration
# of the gateway or of the stand-in legacy provider of Schleswig-Holstein,
# mode 0600, and check it. Shared by scripts/demo.sh and
# docker/entrypoint.sh, so both run the same demo. Reads:
#   build          build directory (kontor-idp)
#   top            source tree (docs/profiles/company.json)
#   var            state directory: var/demo/*.secret are created here
#   issuer, port, redis_url, keys, portal_url        the gateway
#   legacy_url, legacy_port, legacy_redis_url, legacy_keys   the legacy one
set -eu

what=$1
file=$2

# A random secret, generated once and kept in var/demo/. Created with a
# hard link, which fails if the file exists: two containers starting at
# once agree on one secret.
secret_of() {
	f="$var/demo/$1.secret"
	if [ ! -s "$f" ]; then
		t=$(mktemp "$var/demo/.secret.XXXXXX")
		openssl rand -hex 32 >"$t"
		ln "$t" "$f" 2>/dev/null || true
		rm -f "$t"
	fi
	cat "$f"
}

mkdir -p "$var/demo"
legacy_secret=$(secret_of legacy-sh)
umask 077
case $what in
gateway)
	secret=$(secret_of portal)
	cat >"$file" <<EOF
{
  "issuer": "$issuer",
  "listen": { "address": "127.0.0.1", "port": $port },
  "redis": { "url": "$redis_url" },
  "keys": { "dir": "$keys" },
  "dev": { "allow_http_loopback": true },
  "mail": { "outbox_dir": "$var/outbox" },
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
  ],
  "federation": {
    "match_profile": "$top/docs/profiles/company.json",
    "upstreams": [
      {
        "land": "SH",
        "name": "Unternehmenskonto Schleswig-Holstein",
        "issuer": "$legacy_url",
        "client_id": "kontor",
        "client_secret": "$legacy_secret",
        "scope": "openid profile email company company_identifiers",
        "claims": { "legal_name": "org_name", "legal_form": "org_legal_form",
                    "vat": "org_vat_id" }
      }
    ]
  }
}
EOF
	;;
legacy)
	cat >"$file" <<EOF
{
  "issuer": "$legacy_url",
  "listen": { "address": "127.0.0.1", "port": $legacy_port },
  "redis": { "url": "$legacy_redis_url" },
  "keys": { "dir": "$legacy_keys" },
  "dev": { "allow_http_loopback": true },
  "worker_threads": 1,
  "ui": { "brand": "Unternehmenskonto Schleswig-Holstein (Altsystem, Demo)" },
  "clients": [
    {
      "client_id": "kontor",
      "client_name": "kontor (gemeinsames Unternehmenskonto)",
      "client_secret": "$legacy_secret",
      "redirect_uris": [ "$issuer/federate/callback" ],
      "post_logout_redirect_uris": [ "$issuer/federate/logged-out" ],
      "scope": "openid profile email company company_identifiers",
      "subject_type": "public",
      "skip_consent": true
    }
  ]
}
EOF
	;;
*)
	echo "usage: $0 gateway|legacy FILE" >&2
	exit 2
	;;
esac
env -u KONTOR_PORT -u KONTOR_REDIS_URL \
	"$build/kontor-idp" --check-config --config "$file" >/dev/null
