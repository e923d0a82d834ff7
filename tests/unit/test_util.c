#include <pthread.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/util.h"

static void test_b64url_roundtrip(void **state)
{
	const char *vectors[][2] = {
	    {"", ""},       {"f", "Zg"},         {"fo", "Zm8"},
	    {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char enc[32];
		uint8_t dec[32];
		size_t n;
		kt_b64url_encode(enc, vectors[i][0], strlen(vectors[i][0]));
		assert_string_equal(enc, vectors[i][1]);
		assert_int_equal(kt_b64url_encode(enc, vectors[i][0],
						  strlen(vectors[i][0])),
				 kt_b64url_len(strlen(vectors[i][0])));
		assert_int_equal(kt_b64url_decode(dec, sizeof(dec), &n, enc,
						  strlen(enc)),
				 KT_OK);
		assert_int_equal(n, strlen(vectors[i][0]));
		assert_memory_equal(dec, vectors[i][0], n);
	}
	/* URL-safe alphabet: 0xfb 0xff -> "-_8" */
	{
		char enc[8];
		const uint8_t raw[] = {0xfb, 0xff};
		kt_b64url_encode(enc, raw, 2);
		assert_string_equal(enc, "-_8");
	}
}

static void test_b64url_rejects(void **state)
{
	uint8_t out[8];
	size_t n;

	assert_int_equal(kt_b64url_decode(out, sizeof(out), &n, "Zm9+", 4),
			 KT_ERR_INVALID);
	assert_int_equal(kt_b64url_decode(out, sizeof(out), &n, "Z", 1),
			 KT_ERR_INVALID);
	/* Non-canonical trailing bits. */
	assert_int_equal(kt_b64url_decode(out, sizeof(out), &n, "Zh", 2),
			 KT_ERR_INVALID);
	assert_int_equal(kt_b64url_decode(out, 2, &n, "Zm9vYmFy", 8),
			 KT_ERR_LIMIT);
}

static void test_b64_standard(void **state)
{
	/* Same bytes as the base64url case: "+/8" instead of "-_8". */
	const uint8_t raw[] = {0xfb, 0xff};
	char enc[16];
	uint8_t dec[8];
	size_t n;

	assert_int_equal(kt_b64_encode(enc, raw, 2), 3);
	assert_string_equal(enc, "+/8");
	assert_int_equal(kt_b64_decode(dec, sizeof(dec), &n, "+/8", 3), KT_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(dec, raw, 2);
	assert_int_equal(kt_b64_encode(enc, "foobar", 6), 8);
	assert_string_equal(enc, "Zm9vYmFy");
	/* RFC 4648 section 10 vectors, padded */
	assert_int_equal(kt_b64_encode_padded(enc, "f", 1), 4);
	assert_string_equal(enc, "Zg==");
	assert_int_equal(kt_b64_encode_padded(enc, "fo", 2), 4);
	assert_string_equal(enc, "Zm8=");
	assert_int_equal(kt_b64_encode_padded(enc, "foo", 3), 4);
	assert_string_equal(enc, "Zm9v");
	assert_int_equal(kt_b64_encode_padded(enc, "", 0), 0);
	assert_string_equal(enc, "");
	/* Each alphabet rejects the other's symbols. */
	assert_int_equal(kt_b64_decode(dec, sizeof(dec), &n, "-_8", 3),
			 KT_ERR_INVALID);
	assert_int_equal(kt_b64url_decode(dec, sizeof(dec), &n, "+/8", 3),
			 KT_ERR_INVALID);
	assert_int_equal(kt_b64_decode(dec, sizeof(dec), &n, "Zh", 2),
			 KT_ERR_INVALID);
	assert_int_equal(kt_b64_decode(dec, 2, &n, "Zm9vYmFy", 8),
			 KT_ERR_LIMIT);
}

static void test_ct_equal(void **state)
{
	assert_true(kt_ct_streq("secret", "secret"));
	assert_false(kt_ct_streq("secret", "secreT"));
	assert_false(kt_ct_streq("secret", "secret2"));
	assert_false(kt_ct_streq(NULL, "x"));
	assert_false(kt_ct_equal("ab", 2, "abc", 3));
}

static void test_random_token(void **state)
{
	char a[64], b[64];
	assert_int_equal(kt_random_token(a, sizeof(a), 32), KT_OK);
	assert_int_equal(kt_random_token(b, sizeof(b), 32), KT_OK);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(kt_random_token(a, 10, 32), KT_ERR_LIMIT);
}

static void test_parse_uint(void **state)
{
	uint64_t v;
	assert_int_equal(kt_parse_uint("123", 1000, &v), KT_OK);
	assert_int_equal(v, 123);
	assert_int_equal(kt_parse_uint("1001", 1000, &v), KT_ERR_LIMIT);
	assert_int_equal(kt_parse_uint("", 1000, &v), KT_ERR_INVALID);
	assert_int_equal(kt_parse_uint("-1", 1000, &v), KT_ERR_INVALID);
	assert_int_equal(kt_parse_uint("12a", 1000, &v), KT_ERR_INVALID);
	assert_int_equal(
	    kt_parse_uint("18446744073709551616", UINT64_MAX, &v),
	    KT_ERR_LIMIT);
}

static void test_token_hash(void **state)
{
	char h1[23], h2[23];
	kt_token_hash(h1, "abc");
	kt_token_hash(h2, "abd");
	assert_int_equal(strlen(h1), 22);
	assert_string_not_equal(h1, h2);
	/* SHA-256("abc") = ba7816bf 8f01cfea ... -> base64url "ungWv48Bz-pBQUDeXa4iIw" */
	assert_string_equal(h1, "ungWv48Bz-pBQUDeXa4iIw");
}

static void test_utf8_valid(void **state)
{
	assert_true(kt_utf8_valid("", 0));
	assert_true(kt_utf8_valid("abc", 3));
	assert_true(kt_utf8_valid("a\0b", 3));
	assert_true(kt_utf8_valid("\xc3\xa4\xe2\x82\xac\xf0\x9f\x94\x91", 9));
	assert_true(kt_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	assert_false(kt_utf8_valid("\xc3", 1));               /* truncated */
	assert_false(kt_utf8_valid("\xe2\x82", 2));
	assert_false(kt_utf8_valid("\x80", 1));               /* lone continuation */
	assert_false(kt_utf8_valid("\xc0\xaf", 2));           /* overlong */
	assert_false(kt_utf8_valid("\xe0\x80\xaf", 3));      /* overlong */
	assert_false(kt_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	assert_false(kt_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
	assert_false(kt_utf8_valid("\xff", 1));
	assert_false(kt_utf8_valid("\xc3\x28", 2));           /* bad continuation */
}

/* FIPS 180-2 test vectors, twice each: the digest is fetched on first use. */
static void test_sha256(void **state)
{
	static const uint8_t abc[KT_SHA256_LEN] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	static const uint8_t empty[KT_SHA256_LEN] = {
	    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	uint8_t d[KT_SHA256_LEN];

	(void)state;
	for (int i = 0; i < 2; i++) {
		kt_sha256(d, "abc", 3);
		assert_memory_equal(d, abc, sizeof(d));
		kt_sha256(d, "", 0);
		assert_memory_equal(d, empty, sizeof(d));
	}
}

/* Small requests come from a per-thread batch: never the same bytes
 * twice, across refills, across threads and across fork(). */
static void *rand_thread(void *arg)
{
	assert_int_equal(kt_random_bytes(arg, 16), KT_OK);
	return NULL;
}

static void test_random_batch(void **state)
{
	enum { N = 200 };
	static uint8_t got[N][16];
	uint8_t big[100], other[16], zero[16] = {0};
	pthread_t th;
	int fd[2];
	pid_t pid;

	(void)state;
	for (int i = 0; i < N; i++) {
		assert_int_equal(kt_random_bytes(got[i], i % 2 ? 16 : 7), KT_OK);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(got[i], got[j], 7);
	}
	assert_int_equal(kt_random_bytes(big, sizeof(big)), KT_OK);
	assert_int_equal(kt_random_bytes(big, 0), KT_OK);
	assert_int_equal(pthread_create(&th, NULL, rand_thread, other), 0);
	pthread_join(th, NULL);
	for (int j = 0; j < N; j++)
		assert_memory_not_equal(other, got[j], 7);
	/*
	 * The parent's next bytes and the child's first are not the same.
	 * Six 48-byte draws refill the 256-byte batch at least once, and
	 * after a refill 48-byte draws always leave 16 or more bytes (208,
	 * 160, 112, 64, 16): so the parent's next 16 come from the batch the
	 * child inherited, and only the fork handler keeps them apart.
	 */
	for (int i = 0; i < 6; i++)
		assert_int_equal(kt_random_bytes(big, 48), KT_OK);
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t c[16];
		int ok = kt_random_bytes(c, 16) == KT_OK &&
			 write(fd[1], c, 16) == 16;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(kt_random_bytes(got[0], 16), KT_OK);
	assert_int_equal(read(fd[0], other, 16), 16);
	waitpid(pid, NULL, 0);
	close(fd[0]);
	close(fd[1]);
	assert_memory_not_equal(other, got[0], 16);
	assert_memory_not_equal(other, zero, 16);
}

static size_t esc(char *dst, size_t limit, const char *s, int *cut)
{
	size_t n;

	memset(dst, '#', limit + 8);
	*cut = 0;
	n = kt_json_escape(dst, limit, 0, s, cut);
	/* Never a byte at or past limit. */
	assert_int_equal((unsigned char)dst[limit], '#');
	dst[n] = '\0';
	return n;
}

static void test_json_escape(void **state)
{
	char out[128];
	int cut;

	(void)state;
	assert_int_equal(esc(out, 100, "plain https://x/y ok", &cut), 20);
	assert_string_equal(out, "plain https://x/y ok");
	assert_int_equal(cut, 0);
	esc(out, 100, "q\"b\\n\nt\tdel\x7f", &cut);
	assert_string_equal(out, "q\\\"b\\\\n\\nt\\u0009del\\u007f");
	/* UTF-8 stays; broken or overlong sequences become U+FFFD. */
	esc(out, 100, "M\xc3\xbcller \xe2\x82\xac", &cut);
	assert_string_equal(out, "M\xc3\xbcller \xe2\x82\xac");
	esc(out, 100, "a\xc3" "b\xff\xc0\xaf\xe2\x82", &cut);
	assert_string_equal(out, "a\\ufffdb\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
	assert_int_equal(cut, 0);
	/* A character that does not fit whole is left out, and said so. */
	assert_int_equal(esc(out, 9, "abc\"def", &cut), 5);
	assert_string_equal(out, "abc\\\"");
	assert_int_equal(cut, 1);
	assert_int_equal(esc(out, 7, "ab\x01", &cut), 2);
	assert_int_equal(cut, 1);
	/* A plain run stops where one character at a time would: while
	 * 6 bytes are left. */
	assert_int_equal(esc(out, 10, "abcdefghij", &cut), 5);
	assert_string_equal(out, "abcde");
	assert_int_equal(cut, 1);
	assert_int_equal(esc(out, 5, "abc", &cut), 0);
	assert_int_equal(cut, 1);
	assert_int_equal(esc(out, 9, "abcd", &cut), 4);
	assert_int_equal(cut, 0);
	/* 6 bytes per input byte always fit. */
	assert_int_equal(esc(out, 18, "\x01\x02\x03", &cut), 18);
	assert_int_equal(cut, 0);
	/* Appends at off. */
	memcpy(out, "xy", 2);
	cut = 0;
	assert_int_equal(kt_json_escape(out, 100, 2, "\"", &cut), 4);
	out[4] = '\0';
	assert_string_equal(out, "xy\\\"");
	assert_int_equal(esc(out, 100, "", &cut), 0);
}

/* The ASCII rules of kt_json_escape, one byte at a time. */
static size_t esc_ascii_ref(char *dst, const char *s)
{
	size_t off = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[off++] = '\\';
			dst[off++] = (char)c;
		} else if (c == '\n') {
			dst[off++] = '\\';
			dst[off++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			off += (size_t)sprintf(dst + off, "\\u%04x", c);
		} else {
			dst[off++] = (char)c;
		}
	}
	dst[off] = '\0';
	return off;
}

/*
 * The word-at-a-time scans of kt_json_escape and kt_utf8_valid: every
 * special byte at every position of a word, in strings of every length
 * around the word size, gives what one byte at a time gives.
 */
static void test_json_escape_words(void **state)
{
	static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f',
					'\x7f', ' ', '~', '!', '#', '[', ']'};
	char in[64], out[400], want[400];
	int cut;

	(void)state;
	for (size_t len = 1; len <= 40; len++) {
		for (size_t pos = 0; pos < len; pos++) {
			for (size_t k = 0; k < sizeof(specials); k++) {
				memset(in, 'a', len);
				in[len] = '\0';
				in[pos] = specials[k];
				cut = 0;
				esc(out, sizeof(out) - 8, in, &cut);
				esc_ascii_ref(want, in);
				assert_string_equal(out, want);
				assert_int_equal(cut, 0);
				assert_true(kt_utf8_valid(in, len));
			}
			/* A character of two and of three bytes stays; a lone
			 * continuation byte or a cut sequence does not, and is
			 * not UTF-8. */
			memset(in, 'b', len);
			memcpy(in + pos, "\xc3\xbc\xe2\x82\xac", 5);
			in[pos + 5] = '\0';
			esc(out, sizeof(out) - 8, in, &cut);
			assert_string_equal(out, in);
			assert_true(kt_utf8_valid(in, pos + 5));
			in[pos] = '\x80';
			in[pos + 1] = '\0';
			esc(out, sizeof(out) - 8, in, &cut);
			assert_int_equal(strlen(out), pos + 6);
			assert_string_equal(out + pos, "\\ufffd");
			assert_false(kt_utf8_valid(in, pos + 1));
			in[pos] = '\xe2';
			in[pos + 1] = '\x82';
			in[pos + 2] = 'c';
			in[pos + 3] = '\0';
			assert_false(kt_utf8_valid(in, pos + 3));
		}
	}
}

static void test_grow(void **state)
{
	size_t cap = 0, n;
	int *a = NULL, *na;

	(void)state;
	for (n = 0; n < 100; n++) {
		na = kt_grow(a, &cap, n, sizeof(*a), 4);
		assert_non_null(na);
		a = na;
		a[n] = (int)n;
		assert_true(cap > n);
	}
	assert_int_equal(cap, 128); /* 4, 8, ..., 128 */
	for (n = 0; n < 100; n++)
		assert_int_equal(a[n], (int)n);
	/* Room left: the same array back, cap unchanged. */
	assert_ptr_equal(kt_grow(a, &cap, 100, sizeof(*a), 4), a);
	assert_int_equal(cap, 128);
	/* A size that would overflow: NULL, array and cap untouched. */
	assert_null(kt_grow(a, &cap, cap, SIZE_MAX / 100, 4));
	assert_int_equal(cap, 128);
	assert_int_equal(a[99], 99);
	free(a);
}

static void test_fmt_int(void **state)
{
	static const long long v[] = {0,	 7,	   -7,	      10,
				      1795900300, -100,	   LLONG_MAX, LLONG_MIN,
				      999999999999LL};
	char got[KT_FMT_INT_LEN], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = kt_fmt_int(got, v[i]);
		snprintf(want, sizeof(want), "%lld", v[i]);
		assert_string_equal(got, want);
		assert_int_equal(n, strlen(want));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url_roundtrip),
	    cmocka_unit_test(test_b64url_rejects),
	    cmocka_unit_test(test_b64_standard),
	    cmocka_unit_test(test_ct_equal),
	    cmocka_unit_test(test_random_token),
	    cmocka_unit_test(test_parse_uint),
	    cmocka_unit_test(test_token_hash),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_json_escape),
	    cmocka_unit_test(test_json_escape_words),
	    cmocka_unit_test(test_random_batch),
	    cmocka_unit_test(test_fmt_int),
	    cmocka_unit_test(test_grow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
