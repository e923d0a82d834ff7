#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kontor/err.h"
#include "kontor/util.h"

/*
 * Small requests (token ids, codes, secrets: 16 to 32 bytes) are served
 * from a per-thread batch of CSPRNG output: one RAND_bytes call costs about
 * as much for 256 bytes as for 16 (OpenSSL 3 locks and updates its DRBG
 * per call), and the token endpoint asks several times per request.
 *
 * Why this is safe: the bytes come from the same DRBG, in the same order,
 * only earlier; each byte is handed out once and wiped from the batch as
 * it is handed out, so the batch holds at most RAND_BATCH bytes of
 * not-yet-used output (the DRBG's own state, which predicts all of its
 * future output, sits in the same process memory anyway). Threads never
 * share a batch. After fork() the child drops the batch it inherited (a
 * pthread_atfork handler; only the forking thread exists in the child), so
 * parent and child never hand out the same bytes. Large requests bypass the
 * batch.
 */
#define RAND_BATCH 256
#define RAND_BATCH_MAX_REQ 64

static _Thread_local struct {
	uint8_t buf[RAND_BATCH];
	size_t avail; /* unused bytes at the end of buf */
} rand_batch;
static pthread_once_t rand_once = PTHREAD_ONCE_INIT;

static void rand_batch_drop(void)
{
	OPENSSL_cleanse(rand_batch.buf, sizeof(rand_batch.buf));
	rand_batch.avail = 0;
}

static void rand_atfork(void)
{
	pthread_atfork(NULL, NULL, rand_batch_drop);
}

int kt_random_bytes(void *buf, size_t n)
{
	uint8_t *src;

	if (n > RAND_BATCH_MAX_REQ) {
		if (n > (size_t)INT32_MAX || RAND_bytes(buf, (int)n) != 1)
			return KT_ERR_CRYPTO;
		return KT_OK;
	}
	pthread_once(&rand_once, rand_atfork);
	if (rand_batch.avail < n) {
		if (RAND_bytes(rand_batch.buf, RAND_BATCH) != 1) {
			rand_batch_drop();
			return KT_ERR_CRYPTO;
		}
		rand_batch.avail = RAND_BATCH;
	}
	src = rand_batch.buf + RAND_BATCH - rand_batch.avail;
	memcpy(buf, src, n);
	OPENSSL_cleanse(src, n);
	rand_batch.avail -= n;
	return KT_OK;
}

int kt_random_token(char *out, size_t outcap, size_t nbytes)
{
	uint8_t raw[64];
	int r;

	if (nbytes > sizeof(raw) || outcap < kt_b64url_len(nbytes) + 1)
		return KT_ERR_LIMIT;
	if ((r = kt_random_bytes(raw, nbytes)) != KT_OK)
		return r;
	kt_b64url_encode(out, raw, nbytes);
	OPENSSL_cleanse(raw, sizeof(raw));
	return KT_OK;
}

/*
 * base64url (RFC 4648 section 5) for tokens and JWTs, standard base64
 * (section 4) for PHC password hash strings. Both unpadded; one codec with
 * the alphabet as a parameter.
 */
static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t kt_b64url_len(size_t n)
{
	return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

static size_t b64_encode_with(const char *alphabet, char *out, const void *in,
			      size_t n)
{
	const uint8_t *p = in;
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) |
			     p[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

size_t kt_b64url_encode(char *out, const void *in, size_t n)
{
	return b64_encode_with(b64url_alphabet, out, in, n);
}

size_t kt_b64_encode(char *out, const void *in, size_t n)
{
	return b64_encode_with(b64_alphabet, out, in, n);
}

size_t kt_b64_encode_padded(char *out, const void *in, size_t n)
{
	size_t len = kt_b64_encode(out, in, n);

	while (len % 4 != 0)
		out[len++] = '=';
	out[len] = '\0';
	return len;
}

/* Value of c in the alphabet whose last two symbols are c62 and c63. */
static int b64_value(unsigned char c, char c62, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)c62)
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

static int b64_decode_with(char c62, char c63, void *out, size_t outcap,
			   size_t *outlen, const char *in, size_t inlen)
{
	uint8_t *o = out;
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	*outlen = 0;
	while (inlen > 0 && in[inlen - 1] == '=')
		inlen--;
	if (inlen % 4 == 1)
		return KT_ERR_INVALID;
	for (size_t i = 0; i < inlen; i++) {
		int v = b64_value((unsigned char)in[i], c62, c63);
		if (v < 0)
			return KT_ERR_INVALID;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outcap)
				return KT_ERR_LIMIT;
			o[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return KT_ERR_INVALID;
	*outlen = n;
	return KT_OK;
}

int kt_b64url_decode(void *out, size_t outcap, size_t *outlen, const char *in,
		     size_t inlen)
{
	return b64_decode_with('-', '_', out, outcap, outlen, in, inlen);
}

int kt_b64_decode(void *out, size_t outcap, size_t *outlen, const char *in,
		  size_t inlen)
{
	return b64_decode_with('+', '/', out, outcap, outlen, in, inlen);
}

int kt_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return 0;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

int kt_ct_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return kt_ct_equal(a, strlen(a), b, strlen(b));
}

/*
 * SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the
 * implementation up again on every EVP_Digest() (a locked hash-table
 * search that cost half of kt_sha256's time on the token endpoint).
 * Fetched objects are thread-safe to share; this one lives until exit.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void kt_sha256(uint8_t out[KT_SHA256_LEN], const void *in, size_t n)
{
	unsigned int len = KT_SHA256_LEN;

	pthread_once(&sha256_once, sha256_fetch);
	EVP_Digest(in, n, out, &len,
		   sha256_md != NULL ? sha256_md : EVP_sha256(), NULL);
}

int kt_hmac_sha256(uint8_t out[KT_SHA256_LEN], const void *key, size_t keylen,
		   const void *in, size_t n)
{
	unsigned int len = KT_SHA256_LEN;

	if (keylen > (size_t)INT32_MAX)
		return KT_ERR_LIMIT;
	if (HMAC(EVP_sha256(), key, (int)keylen, in, n, out, &len) == NULL)
		return KT_ERR_CRYPTO;
	return KT_OK;
}

void kt_token_hash(char out[23], const char *s)
{
	uint8_t d[KT_SHA256_LEN];
	char enc[44];

	kt_sha256(d, s, strlen(s));
	kt_b64url_encode(enc, d, 16);
	memcpy(out, enc, 22);
	out[22] = '\0';
}

int64_t kt_now(void)
{
	return (int64_t)time(NULL);
}

int64_t kt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kt_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kt_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

char *kt_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void *kt_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t nc;
	void *na;

	if (n < *cap)
		return arr;
	nc = *cap ? *cap * 2 : first;
	if (nc < *cap || elem == 0 || nc > SIZE_MAX / elem)
		return NULL;
	if ((na = realloc(arr, nc * elem)) == NULL)
		return NULL;
	*cap = nc;
	return na;
}

int kt_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return KT_ERR_INVALID;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return KT_ERR_INVALID;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return KT_ERR_LIMIT;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return KT_OK;
}

/*
 * Word-at-a-time tests over 8 bytes (the "determine if a word has a byte
 * less than n" family of bit tricks). Each is exact as a yes/no answer
 * for the whole word; the callers fall back to one byte at a time for a
 * word that says yes.
 */
#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Nonzero if a byte of w is below 0x20, above 0x7e, '"' or '\\'. */
static inline uint64_t swar_json_special(uint64_t w)
{
	uint64_t q = w ^ (SWAR_ONES * '"'), b = w ^ (SWAR_ONES * '\\');

	return (((w - SWAR_ONES * 0x20) & ~w) | ((w + SWAR_ONES) | w) |
		((q - SWAR_ONES) & ~q) | ((b - SWAR_ONES) & ~b)) &
	       SWAR_HIGHS;
}

int kt_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;

	while (i < n) {
		unsigned char c;
		uint32_t cp, min;
		size_t need;

		/* ASCII, the common case, eight bytes at a time. */
		if (n - i >= 8 && (load64(p + i) & SWAR_HIGHS) == 0) {
			i += 8;
			continue;
		}
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* 0xc0, 0xc1 and 0xf5.. can only start overlong/too large. */
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			unsigned char cc = p[i + k];
			if ((cc & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

int kt_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kt_scope_has(const char *scopes, const char *scope)
{
	const char *p = scopes;
	size_t n;

	/* An empty scope would match at every position without advancing. */
	if (scopes == NULL || scope == NULL || *scope == '\0')
		return 0;
	n = strlen(scope);
	while ((p = strstr(p, scope)) != NULL) {
		if ((p == scopes || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

size_t kt_json_escape(char *dst, size_t limit, size_t off, const char *s,
		      int *cut)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);

	while (*p) {
		unsigned char c = *p;
		size_t n, k;
		const unsigned char *q = p;

		/* A run of characters that need no escaping goes in one copy,
		 * cut where the one-by-one rule below would have stopped.
		 * Whole words first, within the string. */
		while (end - q >= 8 && swar_json_special(load64(q)) == 0)
			q += 8;
		while (*q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\')
			q++;
		if (q > p) {
			size_t run = (size_t)(q - p);
			size_t room = off + 6 <= limit ? limit - 6 - off + 1 : 0;
			if (run > room) {
				memcpy(dst + off, p, room);
				*cut = 1;
				return off + room;
			}
			memcpy(dst + off, p, run);
			off += run;
			p = q;
			continue;
		}
		/* The most one character takes: "\u00XX" or "\ufffd". */
		if (off + 6 > limit) {
			*cut = 1;
			break;
		}
		if (c == '"' || c == '\\') {
			dst[off++] = '\\';
			dst[off++] = (char)c;
		} else if (c == '\n') {
			dst[off++] = '\\';
			dst[off++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			dst[off++] = '\\';
			dst[off++] = 'u';
			dst[off++] = '0';
			dst[off++] = '0';
			dst[off++] = hex[c >> 4];
			dst[off++] = hex[c & 15];
		} else if (c < 0x80) {
			dst[off++] = (char)c;
		} else {
			n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			/* Stops at the terminator: it is no continuation. */
			for (k = 1; k < n && (p[k] & 0xc0) == 0x80; k++)
				;
			if (n == 1 || k < n || !kt_utf8_valid(p, n)) {
				memcpy(dst + off, "\\ufffd", 6);
				off += 6;
				p++;
				continue;
			}
			memcpy(dst + off, p, n);
			off += n;
			p += n;
			continue;
		}
		p++;
	}
	return off;
}

size_t kt_fmt_int(char out[KT_FMT_INT_LEN], long long v)
{
	char tmp[KT_FMT_INT_LEN];
	unsigned long long u;
	size_t n = 0, len = 0;

	/* The magnitude as unsigned: -LLONG_MIN does not fit a long long. */
	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}
