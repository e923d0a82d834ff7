#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/uri.h"

static const char NOT_HTTPS[] = "not an absolute https URL";
static const char CHARS[] = "contains forbidden characters";
static const char PCT[] = "contains an invalid percent-encoding";
static const char FRAG[] = "must not contain a fragment";
static const char USERINFO[] = "must not contain user information";
static const char NO_HOST[] = "has no host";
static const char HOST[] = "has an invalid host";
static const char PORT[] = "has an invalid port";
static const char HTTP[] =
    "http is allowed only for 127.0.0.1, [::1] and localhost";
static const char DOTSEG[] = "must not contain dot segments";
static const char EMPTYSEG[] = "must not contain empty path segments";
static const char ENCSLASH[] = "must not contain an encoded slash in the path";

struct bad {
	const char *uri;
	int allow_http;
	const char *reason;
};

static void test_redirect_ok(void **state)
{
	static const char *const ok[] = {
	    "https://rp.example.com/cb",
	    "https://rp.example.com",
	    "https://rp.example.com/",
	    "https://rp.example.com/a/b/",
	    "https://rp.example.com:8443/cb?x=1&next=%2Fhome",
	    "HTTPS://rp.example.com/cb",
	    "hTtPs://rp.example.com/cb",
	    "https://127.0.0.1/cb",
	    "https://10.0.0.1:1/cb",
	    "https://[2001:db8::1]:443/cb",
	    "https://[::ffff:192.0.2.1]/cb",
	    "https://localhost/cb",
	    "https://rp.example.com/a;jsessionid=1/c",
	    "https://rp.example.com/.well-known/cb",
	    "https://rp.example.com/a..b/...",
	    "https://rp.example.com/cb%20x",
	    "https://xn--mnchen-3ya.de/callback",
	    "https://a-b.c-d.example/~user/cb()!$'*+,=@:",
	    "https://rp.example.com:65535/",
	    "https://rp.example.com?x",
	};
	const char *reason = "unset";

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int r = kt_uri_check_redirect(ok[i], 0, &reason);
		if (r != KT_OK)
			fail_msg("rejected '%s': %s", ok[i], reason);
		assert_null(reason);
	}
	/* http on loopback, only when allowed */
	assert_int_equal(
	    kt_uri_check_redirect("http://127.0.0.1:8080/cb", 1, &reason),
	    KT_OK);
	assert_int_equal(kt_uri_check_redirect("http://[::1]/cb", 1, &reason),
			 KT_OK);
	assert_int_equal(
	    kt_uri_check_redirect("http://localhost:3000/cb", 1, NULL), KT_OK);
	assert_int_equal(kt_uri_check_redirect("HTTP://localhost/", 1, NULL),
			 KT_OK);
}

static void check_bad(const struct bad *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *reason = NULL;
		int r =
		    kt_uri_check_redirect(b[i].uri, b[i].allow_http, &reason);
		if (r == KT_OK)
			fail_msg("accepted '%s'", b[i].uri);
		if (reason == NULL || strcmp(reason, b[i].reason) != 0)
			fail_msg("'%s': got '%s', want '%s'", b[i].uri,
				 reason ? reason : "(null)", b[i].reason);
		assert_int_equal(r, KT_ERR_INVALID);
	}
}

static void test_redirect_bad(void **state)
{
	static const struct bad bad[] = {
	    {NULL, 0, NOT_HTTPS},
	    {"", 0, NOT_HTTPS},
	    /* schemes */
	    {"javascript:alert(1)", 0, NOT_HTTPS},
	    {"JavaScript:alert(1)", 1, NOT_HTTPS},
	    {"JAVASCRIPT://rp.example.com/?%a0alert%281%29", 0, NOT_HTTPS},
	    {"data:text/html;base64,PHNjcmlwdD4=", 0, NOT_HTTPS},
	    {"DaTa:text/html,x", 0, NOT_HTTPS},
	    {"vbscript:msgbox", 0, NOT_HTTPS},
	    {"ftp://rp.example.com/", 0, NOT_HTTPS},
	    {"httpss://rp.example.com/", 0, NOT_HTTPS},
	    {"com.example.app:/cb", 0, NOT_HTTPS},
	    {"1https://rp.example.com/", 0, NOT_HTTPS},
	    {"https:rp.example.com/cb", 0, NOT_HTTPS},
	    {"https:/rp.example.com/cb", 0, NOT_HTTPS},
	    {"//rp.example.com/cb", 0, NOT_HTTPS},
	    {"/cb", 0, NOT_HTTPS},
	    {"rp.example.com", 0, NOT_HTTPS},
	    /* http */
	    {"http://rp.example.com/cb", 0, NOT_HTTPS},
	    {"http://127.0.0.1/cb", 0, NOT_HTTPS},
	    {"http://rp.example.com/cb", 1, HTTP},
	    {"http://127.0.0.1.nip.io/cb", 1, HTTP},
	    {"http://localhost.evil.example/", 1, HTTP},
	    {"http://127.0.0.2/", 1, HTTP},
	    {"http://[::2]/", 1, HTTP},
	    {"http://LOCALHOST/", 1, HTTP},
	    /* host */
	    {"https:///rp.example.com/cb", 0, NO_HOST},
	    {"https://", 0, NO_HOST},
	    {"https://?x", 0, NO_HOST},
	    {"https://:443/cb", 0, NO_HOST},
	    {"https://.example.com/", 0, HOST},
	    {"https://rp..example.com/", 0, HOST},
	    {"https://rp.example.com./", 0, HOST},
	    {"https://-rp.example.com/", 0, HOST},
	    {"https://rp-.example.com/", 0, HOST},
	    {"https://rp_x.example.com/", 0, HOST},
	    {"https://%09/google.com", 0, CHARS},
	    {"https://%41.example/", 0, HOST},
	    {"https://google%E3%80%82com/", 0, HOST},
	    {"https://0xd8.0x3a.0xd6.0xce/", 0, HOST},
	    {"https://0xd83ad6ce/", 0, HOST},
	    {"https://3627734734/", 0, HOST},
	    {"https://0330.072.0326.0316/", 0, HOST},
	    {"https://00330.00072.0000326.00000316/", 0, HOST},
	    {"https://472.314.470.462/", 0, HOST},
	    {"https://0xd8.072.54990/", 0, HOST},
	    {"https://1.2.3/", 0, HOST},
	    {"https://rp.example.0x7f/", 0, HOST},
	    {"https://[::1/", 0, HOST},
	    {"https://[]/", 0, HOST},
	    {"https://[zz::1]/", 0, HOST},
	    {"https://[fe80::1%25eth0]/", 0, HOST},
	    {"https://[::1]x/", 0, HOST},
	    {"https://"
	     "a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaa/",
	     0, HOST},
	    /* port */
	    {"https://rp.example.com:/cb", 0, PORT},
	    {"https://rp.example.com:0/cb", 0, PORT},
	    {"https://rp.example.com:65536/cb", 0, PORT},
	    {"https://rp.example.com:123456/cb", 0, PORT},
	    {"https://rp.example.com:8a/cb", 0, PORT},
	    {"https://rp.example.com:443:443/cb", 0, PORT},
	    {"https://[::1]:x/", 0, PORT},
	    /* user information, incl. several '@' (Keycloak CVE-2026-7504) */
	    {"https://user@rp.example.com/", 0, USERINFO},
	    {"https://rp.example.com@evil.example/", 0, USERINFO},
	    {"https://a@b@evil.example/", 0, USERINFO},
	    {"https://:@evil.example/", 0, USERINFO},
	    {"https://www.whitelisteddomain.tld@google.com/%2f..", 0, USERINFO},
	    {"http://user:pw@127.0.0.1/", 1, USERINFO},
	    /* fragment */
	    {"https://rp.example.com#frag", 0, FRAG},
	    {"https://rp.example.com/cb#", 0, FRAG},
	    {"https://rp.example.com/cb?x=1#y", 0, FRAG},
	    {"https://google.com:80#@rp.example.com/", 0, FRAG},
	    /* forbidden characters, raw and encoded */
	    {"https://rp.example.com\\@evil.example/", 0, CHARS},
	    {"https://:@google.com\\@rp.example.com", 0, CHARS},
	    {"https://rp.example.com/\\evil.example", 0, CHARS},
	    {"https:/\\/evil.example/", 0, CHARS},
	    {"/\\/evil.example/", 0, CHARS},
	    {"https://rp.example.com/cb\t", 0, CHARS},
	    {"https://rp.example.com/c b", 0, CHARS},
	    {" https://rp.example.com/cb", 0, CHARS},
	    {"https://rp.example.com/cb\r\nLocation: x", 0, CHARS},
	    {"https://rp.example.com/\x7f", 0, CHARS},
	    {"https://rp.example.com/<script>", 0, CHARS},
	    {"https://rp.example.com/\"x", 0, CHARS},
	    {"https://rp.example.com/`x`", 0, CHARS},
	    {"https://rp.example.com/{x}|^", 0, CHARS},
	    {"https://\xef\xbd\xb0google.com/", 0, CHARS},
	    {"https://rp.example.com/\xe3\x80\xb1", 0, CHARS},
	    {"https://rp.example.com/%0d%0aSet-Cookie:x", 0, CHARS},
	    {"https://rp.example.com/%09/evil.example", 0, CHARS},
	    {"https://rp.example.com/%5cevil.example", 0, CHARS},
	    {"https://rp.example.com/%2f%5c%2f%67%6f%6f%67%6c%65", 0, CHARS},
	    {"https://%5cgoogle.com", 0, CHARS},
	    {"https://google%00.com", 0, CHARS},
	    {"https://rp.example.com/%7F", 0, CHARS},
	    {"https://rp.example.com/cb?x=%00", 0, CHARS},
	    {"java%0d%0ascript%0d%0a:alert(0)", 0, CHARS},
	    /* percent-encoding syntax */
	    {"https://rp.example.com/cb%zz", 0, PCT},
	    {"https://rp.example.com/cb%4", 0, PCT},
	    {"https://rp.example.com/cb%", 0, PCT},
	    {"https://rp.example.com/cb?x=%g0", 0, PCT},
	    /* path tricks */
	    {"https://rp.example.com/%2fevil.example", 0, ENCSLASH},
	    {"https://rp.example.com/cb/%2F%2Fevil.example", 0, ENCSLASH},
	    {"https://google.com/%2f..", 0, ENCSLASH},
	    {"https://rp.example.com/a/../admin", 0, DOTSEG},
	    {"https://rp.example.com/a/./b", 0, DOTSEG},
	    {"https://rp.example.com/cb/..;/admin", 0, DOTSEG},
	    {"https://rp.example.com/cb/.;x/admin", 0, DOTSEG},
	    {"https://rp.example.com/cb/%2e%2e/admin", 0, DOTSEG},
	    {"https://rp.example.com/cb/%2E%2e;x/admin", 0, DOTSEG},
	    {"https://rp.example.com/cb/.%2e", 0, DOTSEG},
	    {"https://rp.example.com/cb/..", 0, DOTSEG},
	    {"https://rp.example.com/cb/.", 0, DOTSEG},
	    {"https://rp.example.com/cb/../?x", 0, DOTSEG},
	    {"https://www.google.com/%2e%2e", 0, DOTSEG},
	    {"https://rp.example.com//evil.example", 0, EMPTYSEG},
	    {"https://google.com//", 0, EMPTYSEG},
	    {"https://rp.example.com/a//b", 0, EMPTYSEG},
	    {"https://rp.example.com/https://evil.example/", 0, EMPTYSEG},
	};

	check_bad(bad, sizeof(bad) / sizeof(bad[0]));
}

/*
 * Payload shapes from mod_auth_openidc test/open-redirect-payload-list.txt
 * (CVE-2019-14857 trailing slashes, CVE-2019-20479 "/\", issue #565
 * "%2f%5c", issue #449 empty host, multiple '@', ..;/), both as registered
 * URIs on their own and appended to a legitimate https base. None may
 * pass registration.
 */
static void test_open_redirect_payloads(void **state)
{
	static const char *const payloads[] = {
	    "/%09/example.com",
	    "/%2f%2fexample.com",
	    "/%2f%5c%2f%67%6f%6f%67%6c%65%2e%63%6f%6d/",
	    "/%5cexample.com",
	    "//%09/example.com",
	    "//%5cexample.com",
	    "/////example.com/",
	    "////\\;@example.com",
	    "////example.com/%2e%2e",
	    "//google.com/%2f..",
	    "//www.whitelisteddomain.tld@google.com/%2f..",
	    "/https://google.com/%2f..",
	    "//www.google.com/%2f%2e%2e",
	    "//https://google.com//",
	    "/https:/%5cexample.com/",
	    "/\\/\\/example.com/",
	    "\\/\\/google.com/",
	    "//google%00.com",
	    "//google%E3%80%82com",
	    "/<>//example.com",
	    "//google.com\\@www.whitelisteddomain.tld",
	    "/..;/admin",
	    "/%2e%2e;/admin",
	    "//",
	};
	static const char *const absolute[] = {
	    "https://www.google.com/%2f%2e%2e",
	    "https://www.google.com/%2e%2e%2f",
	    "https:///www.google.com/%2e%2e",
	    "https://%09/www.whitelisteddomain.tld@google.com",
	    "https://%5cwww.whitelisteddomain.tld@google.com",
	    "https://google.com//",
	    "https://:@google.com\\@www.whitelisteddomain.tld",
	    "https://www.whitelisteddomain.tld/https://www.google.com/",
	    "javascript://www.whitelisteddomain.tld?%a0alert%281%29",
	    "http://www.whitelisteddomain.tld@0xd8.0x3a.0xd6.0xce",
	    "http://3H6k7lIAiqjfNeN@3627734734",
	    "http://[::ffff:216.58.214.206]",
	    "http:0xd8.0x3a.0xd6.0xce",
	    "https:google.com",
	    "javascript:alert(1);",
	    "\";alert(0);//",
	    "%68%74%74%70%3a%2f%2f%67%6f%6f%67%6c%65%2e%63%6f%6d",
	    "https://google.com:80#@www.whitelisteddomain.tld/",
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		if (kt_uri_check_redirect(payloads[i], 1, NULL) == KT_OK)
			fail_msg("accepted '%s'", payloads[i]);
		snprintf(buf, sizeof(buf), "https://rp.example.com%s",
			 payloads[i]);
		if (kt_uri_check_redirect(buf, 1, NULL) == KT_OK)
			fail_msg("accepted '%s'", buf);
		snprintf(buf, sizeof(buf), "https://rp.example.com/cb%s",
			 payloads[i]);
		if (kt_uri_check_redirect(buf, 1, NULL) == KT_OK)
			fail_msg("accepted '%s'", buf);
	}
	for (size_t i = 0; i < sizeof(absolute) / sizeof(absolute[0]); i++)
		if (kt_uri_check_redirect(absolute[i], 1, NULL) == KT_OK)
			fail_msg("accepted '%s'", absolute[i]);
}

static void test_length(void **state)
{
	char buf[KT_URI_MAX_LEN + 2];
	const char *reason = NULL;
	size_t base = strlen("https://rp.example.com/");

	memcpy(buf, "https://rp.example.com/", base);
	memset(buf + base, 'a', KT_URI_MAX_LEN - base);
	buf[KT_URI_MAX_LEN] = '\0';
	assert_int_equal(kt_uri_check_redirect(buf, 0, &reason), KT_OK);
	buf[KT_URI_MAX_LEN] = 'a';
	buf[KT_URI_MAX_LEN + 1] = '\0';
	assert_int_equal(kt_uri_check_redirect(buf, 0, &reason), KT_ERR_LIMIT);
	assert_string_equal(reason, "longer than 2000 characters");
}

static void test_issuer(void **state)
{
	const char *reason = NULL;

	assert_int_equal(
	    kt_uri_check_issuer("https://login.example.de", 0, &reason), KT_OK);
	assert_int_equal(
	    kt_uri_check_issuer("https://login.example.de/t1", 0, &reason),
	    KT_OK);
	assert_int_equal(
	    kt_uri_check_issuer("http://127.0.0.1:8080", 1, &reason), KT_OK);

	assert_int_equal(
	    kt_uri_check_issuer("https://login.example.de/", 0, &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, "must not end with a slash");
	assert_int_equal(
	    kt_uri_check_issuer("https://login.example.de/t1/", 0, &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, "must not end with a slash");
	assert_int_equal(
	    kt_uri_check_issuer("https://login.example.de?x=1", 0, &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, "must not contain a query");
	assert_int_equal(
	    kt_uri_check_issuer("https://login.example.de/#x", 0, &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, FRAG);
	assert_int_equal(
	    kt_uri_check_issuer("http://127.0.0.1:8080", 0, &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, NOT_HTTPS);
	assert_int_equal(
	    kt_uri_check_issuer("http://login.example.de", 1, &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, HTTP);
}

static void test_equal(void **state)
{
	assert_true(
	    kt_uri_equal("https://a.example/cb", "https://a.example/cb"));
	/* no normalisation of any kind */
	assert_false(
	    kt_uri_equal("https://a.example/cb", "https://a.example/cb/"));
	assert_false(
	    kt_uri_equal("https://a.example/cb", "HTTPS://a.example/cb"));
	assert_false(
	    kt_uri_equal("https://a.example/cb", "https://A.example/cb"));
	assert_false(
	    kt_uri_equal("https://a.example/cb", "https://a.example:443/cb"));
	assert_false(
	    kt_uri_equal("https://a.example/cb", "https://a.example/%63b"));
	assert_false(
	    kt_uri_equal("https://a.example/cb", "https://a.example/cb?x=1"));
	assert_false(kt_uri_equal("https://a.example/cb?a=1&b=2",
				  "https://a.example/cb?b=2&a=1"));
	assert_false(kt_uri_equal(NULL, "https://a.example/cb"));
	assert_false(kt_uri_equal("https://a.example/cb", NULL));
	assert_false(kt_uri_equal(NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redirect_ok),
	    cmocka_unit_test(test_redirect_bad),
	    cmocka_unit_test(test_open_redirect_payloads),
	    cmocka_unit_test(test_length),
	    cmocka_unit_test(test_issuer),
	    cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
