#ifndef KONTOR_URI_H
#define KONTOR_URI_H

/*
 * Redirect URI rules.
 *
 * Registration time (config file, dynamic client registration) is strict:
 * kt_uri_check_redirect() accepts only a small, unambiguous subset of
 * RFC 3986 absolute URLs, so that every parser a URI later meets (browser,
 * relying party, proxy) sees the same host and path. This closes the open
 * redirect classes seen in mod_auth_openidc and Keycloak: userinfo with
 * several '@', backslashes, encoded slashes and backslashes, tab/CR/LF,
 * empty path segments ("//"), dot segments including "..;/" and "%2e%2e",
 * javascript:/data: in any case, numeric host obfuscation (0xd8.0x3a...).
 *
 * Authorization time is an exact string comparison (kt_uri_equal), as
 * RFC 9700 section 2.1 requires.
 */

#define KT_URI_MAX_LEN 2000

/*
 * Check a redirect_uri, post_logout_redirect_uri or backchannel_logout_uri
 * for registration. Requirements:
 *  - at most KT_URI_MAX_LEN bytes, only printable ASCII characters that
 *    RFC 3986 allows (no whitespace, controls, backslash, quotes, '<' '>',
 *    non-ASCII), valid percent-encodings, none of them decoding to a control
 *    character or a backslash;
 *  - absolute URL "https://host[:port][/path][?query]", scheme compared
 *    case-insensitively; "http" only when allow_http_loopback is set and
 *    the host is exactly 127.0.0.1, [::1] or localhost;
 *  - a host that is a DNS name (LDH labels), a dotted-decimal IPv4 address
 *    or a bracketed IPv6 address; no user information, no fragment;
 *  - a path without dot segments ("." "..", also percent-encoded or with
 *    ";params"), without empty segments except a final trailing slash and
 *    without encoded '/' ("%2f").
 * Returns 0, or KT_ERR_INVALID (KT_ERR_LIMIT when too long) and sets
 * *reason (may be NULL) to a static description such as "not an absolute
 * https URL", "must not contain a fragment", "must not contain user
 * information", "contains forbidden characters".
 */
int kt_uri_check_redirect(const char *uri, int allow_http_loopback,
			  const char **reason);

/*
 * Check an issuer identifier (OIDC Discovery 1.0 section 3, RFC 8414): the
 * redirect rules above, plus no query ("must not contain a query") and no
 * trailing slash ("must not end with a slash"), so that "iss" values and
 * the well-known URL derived from it are unambiguous.
 */
int kt_uri_check_issuer(const char *uri, int allow_http_loopback,
			const char **reason);

/*
 * Authorization-time match of a presented redirect URI against a registered
 * one: 1 when both are non-NULL and byte-for-byte equal, else 0.
 *
 * Deliberately no normalisation (case, default port, percent-encoding, dot
 * segments, trailing slash): RFC 9700 section 4.1.3 requires exact string
 * matching, and every normaliser is a second URL parser whose idea of
 * "equal" can differ from the browser's - the root of most redirect URI
 * bypasses. Redirect URIs are public, so a plain strcmp is fine here.
 */
int kt_uri_equal(const char *a, const char *b);

#endif
