#include <stdlib.h>
#include <string.h>

#include "kontor/strsim.h"

size_t kt_strsim_decode(const char *s, size_t n, uint32_t *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k = 0;

	while (i < n && k < cap) {
		unsigned c = p[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			out[k++] = c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			goto invalid;
		}
		if (len > n - i)
			goto invalid;
		for (size_t j = 1; j < len; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				goto invalid;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((len == 3 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			goto invalid;
		out[k++] = cp;
		i += len;
		continue;
	invalid:
		/* One byte at a time, so the next valid character is found. */
		out[k++] = 0xfffd;
		i++;
	}
	return k;
}

static size_t clamp_len(size_t n)
{
	return n > KT_STRSIM_MAX_CP ? KT_STRSIM_MAX_CP : n;
}

static double jaro_value(size_t matches, size_t half_transp, size_t na,
			 size_t nb)
{
	if (matches == 0)
		return 0.0;
	return ((double)matches / (double)na + (double)matches / (double)nb +
		((double)matches - (double)half_transp / 2.0) /
		    (double)matches) /
	       3.0;
}

/*
 * Bit-parallel Jaro for ASCII b of at most 64 code points (normalised
 * names, streets, towns: nearly every comparison): one bit mask of
 * positions per character of b, so that finding a's partner in the window
 * is a mask and a count-trailing-zeros instead of a scan. The same
 * matching as the scan (first free position in the window), hence the
 * same result. Returns -1 when b does not qualify.
 */
static double jaro_bits(const uint32_t *a, size_t na, const uint32_t *b,
			size_t nb, size_t window)
{
	uint64_t pos[128], ma = 0, mb = 0;
	size_t matches = 0, half_transp = 0;

	if (na > 64 || nb > 64)
		return -1;
	for (size_t j = 0; j < nb; j++)
		if (b[j] >= 128)
			return -1;
	for (size_t j = 0; j < nb; j++)
		pos[b[j]] = 0;
	for (size_t i = 0; i < na; i++)
		if (a[i] < 128)
			pos[a[i]] = 0;
	for (size_t j = 0; j < nb; j++)
		pos[b[j]] |= 1ull << j;
	for (size_t i = 0; i < na; i++) {
		size_t lo = i > window ? i - window : 0;
		size_t hi = i + window + 1 < nb ? i + window + 1 : nb;
		uint64_t win, cand;

		if (a[i] >= 128 || lo >= hi)
			continue;
		win = (hi - lo == 64 ? ~0ull : ((1ull << (hi - lo)) - 1)) << lo;
		cand = pos[a[i]] & win & ~mb;
		if (cand == 0)
			continue;
		mb |= cand & (~cand + 1); /* lowest set bit */
		ma |= 1ull << i;
		matches++;
	}
	/* Transpositions: the k-th matched of a against the k-th of b. */
	while (ma != 0) {
		unsigned i = (unsigned)__builtin_ctzll(ma);
		unsigned j = (unsigned)__builtin_ctzll(mb);

		if (a[i] != b[j])
			half_transp++;
		ma &= ma - 1;
		mb &= mb - 1;
	}
	return jaro_value(matches, half_transp, na, nb);
}

double kt_strsim_jaro_cp(const uint32_t *a, size_t na, const uint32_t *b,
			 size_t nb)
{
	uint8_t ma[KT_STRSIM_MAX_CP], mb[KT_STRSIM_MAX_CP];
	size_t window, matches = 0, half_transp = 0, k = 0;
	double fast;

	na = clamp_len(na);
	nb = clamp_len(nb);
	if (na == 0 && nb == 0)
		return 1.0;
	if (na == 0 || nb == 0)
		return 0.0;
	window = (na > nb ? na : nb) / 2;
	window = window > 0 ? window - 1 : 0;
	fast = jaro_bits(a, na, b, nb, window);
	if (fast >= 0)
		return fast;
	memset(ma, 0, na);
	memset(mb, 0, nb);
	for (size_t i = 0; i < na; i++) {
		size_t lo = i > window ? i - window : 0;
		size_t hi = i + window + 1 < nb ? i + window + 1 : nb;

		for (size_t j = lo; j < hi; j++) {
			if (!mb[j] && a[i] == b[j]) {
				ma[i] = mb[j] = 1;
				matches++;
				break;
			}
		}
	}
	if (matches == 0)
		return 0.0;
	for (size_t i = 0; i < na; i++) {
		if (!ma[i])
			continue;
		while (!mb[k])
			k++;
		if (a[i] != b[k])
			half_transp++;
		k++;
	}
	return jaro_value(matches, half_transp, na, nb);
}

double kt_strsim_jaro_winkler_cp(const uint32_t *a, size_t na,
				 const uint32_t *b, size_t nb)
{
	double j = kt_strsim_jaro_cp(a, na, b, nb);
	size_t prefix = 0;

	if (j <= 0.7)
		return j;
	while (prefix < 4 && prefix < na && prefix < nb &&
	       a[prefix] == b[prefix])
		prefix++;
	return j + (double)prefix * 0.1 * (1.0 - j);
}

double kt_strsim_jaro_winkler(const char *a, const char *b)
{
	uint32_t ca[KT_STRSIM_MAX_CP], cb[KT_STRSIM_MAX_CP];
	size_t na = kt_strsim_decode(a, strlen(a), ca, KT_STRSIM_MAX_CP);
	size_t nb = kt_strsim_decode(b, strlen(b), cb, KT_STRSIM_MAX_CP);

	return kt_strsim_jaro_winkler_cp(ca, na, cb, nb);
}

unsigned kt_strsim_levenshtein_cp(const uint32_t *a, size_t na,
				  const uint32_t *b, size_t nb, unsigned bound)
{
	unsigned row0[KT_STRSIM_MAX_CP + 1], row1[KT_STRSIM_MAX_CP + 1];
	unsigned *prev = row0, *cur = row1, *tmp;
	size_t diff;

	na = clamp_len(na);
	nb = clamp_len(nb);
	/* No distance exceeds MAX_CP, so a larger bound changes nothing and
	 * bound + 1 cannot overflow. */
	if (bound > KT_STRSIM_MAX_CP)
		bound = KT_STRSIM_MAX_CP;
	diff = na > nb ? na - nb : nb - na;
	if (diff > bound)
		return bound + 1;
	for (size_t j = 0; j <= nb; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		unsigned rowmin;

		cur[0] = (unsigned)i;
		rowmin = cur[0];
		for (size_t j = 1; j <= nb; j++) {
			unsigned del = prev[j] + 1, ins = cur[j - 1] + 1;
			unsigned sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			unsigned v = del < ins ? del : ins;

			v = sub < v ? sub : v;
			cur[j] = v;
			if (v < rowmin)
				rowmin = v;
		}
		/* Row minima never decrease: once above bound, stay above. */
		if (rowmin > bound)
			return bound + 1;
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[nb] > bound ? bound + 1 : prev[nb];
}

unsigned kt_strsim_levenshtein(const char *a, const char *b, unsigned bound)
{
	uint32_t ca[KT_STRSIM_MAX_CP], cb[KT_STRSIM_MAX_CP];
	size_t na = kt_strsim_decode(a, strlen(a), ca, KT_STRSIM_MAX_CP);
	size_t nb = kt_strsim_decode(b, strlen(b), cb, KT_STRSIM_MAX_CP);

	return kt_strsim_levenshtein_cp(ca, na, cb, nb, bound);
}

/* FNV-1a, folded to 32 bits: fast, and good enough for set identity. */
static uint64_t fnv_step(uint64_t h, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		h ^= (v >> (8 * i)) & 0xffu;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint32_t fold(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32));
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return (a > b) - (a < b);
}

/* Sort and de-duplicate in place; returns the new size. */
static size_t sort_unique(uint32_t *v, size_t n)
{
	size_t k = 0;

	if (n <= 24) {
		for (size_t i = 1; i < n; i++) {
			uint32_t x = v[i];
			size_t j = i;

			while (j > 0 && v[j - 1] > x) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
	} else {
		qsort(v, n, sizeof(*v), cmp_u32);
	}
	for (size_t i = 0; i < n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

size_t kt_strsim_tokens(const char *s, size_t n, uint32_t *out, size_t cap)
{
	size_t i = 0, k = 0;

	while (i < n && k < cap) {
		uint64_t h = 0xcbf29ce484222325ull;

		while (i < n && is_space((unsigned char)s[i]))
			i++;
		if (i == n)
			break;
		while (i < n && !is_space((unsigned char)s[i])) {
			h ^= (unsigned char)s[i++];
			h *= 0x100000001b3ull;
		}
		out[k++] = fold(h);
	}
	return sort_unique(out, k);
}

size_t kt_strsim_ngrams(const char *s, size_t n, unsigned q, uint32_t *out,
			size_t cap)
{
	uint32_t cp[KT_STRSIM_MAX_CP + 2];
	size_t len, k = 0;

	if (q < 2 || q > 5 || n == 0 || cap == 0)
		return 0;
	/* Markers outside every script: U+0002 before, U+0003 after. */
	cp[0] = 2;
	len = kt_strsim_decode(s, n, cp + 1, KT_STRSIM_MAX_CP) + 1;
	cp[len++] = 3;
	if (len < q) {
		uint64_t h = 0xcbf29ce484222325ull;

		for (size_t j = 0; j < len; j++)
			h = fnv_step(h, cp[j]);
		out[0] = fold(h);
		return 1;
	}
	for (size_t i = 0; i + q <= len && k < cap; i++) {
		uint64_t h = 0xcbf29ce484222325ull;

		for (size_t j = 0; j < q; j++)
			h = fnv_step(h, cp[i + j]);
		out[k++] = fold(h);
	}
	return sort_unique(out, k);
}

size_t kt_strsim_set_common(const uint32_t *a, size_t na, const uint32_t *b,
			    size_t nb)
{
	size_t i = 0, j = 0, c = 0;

	while (i < na && j < nb) {
		if (a[i] < b[j]) {
			i++;
		} else if (a[i] > b[j]) {
			j++;
		} else {
			c++;
			i++;
			j++;
		}
	}
	return c;
}

double kt_strsim_set_jaccard(const uint32_t *a, size_t na, const uint32_t *b,
			     size_t nb)
{
	size_t c;

	if (na == 0 && nb == 0)
		return 1.0;
	c = kt_strsim_set_common(a, na, b, nb);
	return (double)c / (double)(na + nb - c);
}

double kt_strsim_set_containment(const uint32_t *a, size_t na,
				 const uint32_t *b, size_t nb)
{
	if (na == 0 && nb == 0)
		return 1.0;
	if (na == 0 || nb == 0)
		return 0.0;
	return (double)kt_strsim_set_common(a, na, b, nb) /
	       (double)(na < nb ? na : nb);
}

double kt_strsim_token_jaccard(const char *a, const char *b)
{
	uint32_t ta[KT_STRSIM_MAX_SET], tb[KT_STRSIM_MAX_SET];
	size_t na = kt_strsim_tokens(a, strlen(a), ta, KT_STRSIM_MAX_SET);
	size_t nb = kt_strsim_tokens(b, strlen(b), tb, KT_STRSIM_MAX_SET);

	return kt_strsim_set_jaccard(ta, na, tb, nb);
}

double kt_strsim_token_containment(const char *a, const char *b)
{
	uint32_t ta[KT_STRSIM_MAX_SET], tb[KT_STRSIM_MAX_SET];
	size_t na = kt_strsim_tokens(a, strlen(a), ta, KT_STRSIM_MAX_SET);
	size_t nb = kt_strsim_tokens(b, strlen(b), tb, KT_STRSIM_MAX_SET);

	return kt_strsim_set_containment(ta, na, tb, nb);
}
