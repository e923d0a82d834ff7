#include <stdlib.h>
#include <string.h>

#include "kontor/phonetic.h"
#include "kontor/strsim.h"
#include "kontor/util.h"
#include "match_int.h"

/*
 * Blocking. Every "exact"-style pass (exact keys, tokens, phonetic keys,
 * MinHash band signatures) works the same way: each record emits key
 * values, packed as (36-bit key hash << 28 | record); one radix sort groups
 * equal keys; every group ("block") of at most max_block_size records
 * yields all its pairs. A larger block is skipped, or with
 * oversize_window > 0 sorted by a field and paired within a window, and
 * counted either way. Two distinct keys whose 36-bit hashes collide share a
 * block: harmless (a few extra candidate pairs), and rare enough not to
 * matter for block sizes.
 *
 * Sorted neighbourhood sorts the records by a field (optionally by the
 * reversed string, so that a typo in the first letters still sorts near)
 * and pairs each record with the next window - 1.
 *
 * Pairs of one pass are sorted and de-duplicated, then merged into the
 * union of the earlier passes; each pair keeps a bit per pass, so counts
 * per pass ("produced", "new") and pair completeness per pass fall out.
 */

#define REC_BITS 28
#define REC_MASK ((1u << REC_BITS) - 1u)
#define MAX_MINHASH (32 * 8)

struct vec {
	uint64_t *v;
	size_t n, cap;
};

static int vec_push(struct vec *x, uint64_t e)
{
	uint64_t *nv = kt_grow(x->v, &x->cap, x->n, sizeof(*nv), 4096);

	if (nv == NULL)
		return KT_ERR_NOMEM;
	x->v = nv;
	x->v[x->n++] = e;
	return KT_OK;
}

struct emit {
	const struct kt_match *m;
	const struct ktm_pass *ps;
	unsigned pass;
	uint64_t mh_a[MAX_MINHASH], mh_b[MAX_MINHASH];
	struct vec out[64];
	int failed[64];
};

static void put_key(struct emit *e, unsigned tid, uint64_t h, uint32_t rec)
{
	if (vec_push(&e->out[tid], (h << REC_BITS) | rec) != KT_OK)
		e->failed[tid] = 1;
}

static size_t cp_prefix_bytes(const char *s, size_t n, unsigned cps)
{
	size_t i = 0;

	while (i < n && cps > 0) {
		i++;
		while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		cps--;
	}
	return i;
}

static size_t cp_count(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

static void emit_exact(struct emit *e, unsigned tid, uint32_t rec)
{
	const struct kt_match_table *t = e->m->t;
	const struct ktm_pass *ps = e->ps;

	for (unsigned k = 0; k < ps->nkeys; k++) {
		uint64_t h = ktm_mix64(((uint64_t)e->pass << 8 | k) + 1);
		const struct ktm_part *tok = NULL;
		const char *ts = NULL;
		uint32_t tlen = 0;
		unsigned j;

		for (j = 0; j < ps->nparts[k]; j++) {
			const struct ktm_part *pt = &ps->parts[k][j];
			uint32_t v = ktm_cell(t, rec, pt->field);
			const char *s = ktm_pool_str(&t->vals, v);
			uint32_t len = ktm_pool_len(&t->vals, v);
			char code[2 * KT_MATCH_VALUE_MAX + 1];

			if (v == 0 ||
			    (pt->valid_only && !ktm_valid(t, rec, pt->field)))
				break;
			switch (pt->tr) {
			case KTM_TR_NONE:
				h = ktm_mix64(h ^ v);
				break;
			case KTM_TR_PREFIX:
				h = ktm_hash_bytes(
				    s, cp_prefix_bytes(s, len, pt->length), h);
				break;
			case KTM_TR_COLOGNE:
				if (kt_phonetic_cologne(
					s, code, sizeof(code)) != KT_OK ||
				    code[0] == '\0')
					goto next_key;
				h = ktm_hash_bytes(code, strlen(code), h);
				break;
			case KTM_TR_TOKENS:
				tok = pt;
				ts = s;
				tlen = len;
				break;
			}
		}
		if (j < ps->nparts[k])
			continue; /* a part is missing: no key */
		if (tok == NULL) {
			put_key(e, tid, h, rec);
			continue;
		}
		for (uint32_t i = 0; i < tlen;) {
			uint32_t st;

			while (i < tlen && (ts[i] == ' ' || ts[i] == '\t'))
				i++;
			st = i;
			while (i < tlen && ts[i] != ' ' && ts[i] != '\t')
				i++;
			if (i > st &&
			    cp_count(ts + st, i - st) >= tok->min_length)
				put_key(e, tid,
					ktm_hash_bytes(ts + st, i - st, h),
					rec);
		}
	next_key:;
	}
}

static void emit_minhash(struct emit *e, unsigned tid, uint32_t rec)
{
	const struct kt_match_table *t = e->m->t;
	const struct ktm_pass *ps = e->ps;
	uint32_t v = ktm_cell(t, rec, ps->field), grams[KT_STRSIM_MAX_SET];
	size_t ng;

	if (v == 0)
		return;
	ng = kt_strsim_ngrams(ktm_pool_str(&t->vals, v),
			      ktm_pool_len(&t->vals, v), ps->ngram, grams,
			      KT_STRSIM_MAX_SET);
	if (ng == 0)
		return;
	for (unsigned b = 0; b < ps->bands; b++) {
		uint64_t h =
		    ktm_mix64(ps->seed ^ ((uint64_t)e->pass << 40 | (b + 1)));

		for (unsigned r = 0; r < ps->rows; r++) {
			unsigned idx = b * ps->rows + r;
			uint32_t mn = UINT32_MAX;

			/* Multiply-shift universal hashing: one multiply per
			 * gram and function keeps MinHash cheap. */
			for (size_t g = 0; g < ng; g++) {
				uint32_t x =
				    (uint32_t)((e->mh_a[idx] * grams[g] +
						e->mh_b[idx]) >>
					       32);
				if (x < mn)
					mn = x;
			}
			h = ktm_mix64(h ^ mn);
		}
		put_key(e, tid, h, rec);
	}
}

static void emit_work(void *ctx, unsigned tid, size_t lo, size_t hi)
{
	struct emit *e = ctx;

	for (size_t r = lo; r < hi && !e->failed[tid]; r++) {
		if (e->ps->method == KTM_PASS_EXACT)
			emit_exact(e, tid, (uint32_t)r);
		else
			emit_minhash(e, tid, (uint32_t)r);
	}
}

/* ---- ordering by a field ---------------------------------------------- */

struct item {
	uint64_t prefix; /* first 8 bytes, big-endian: most compares end here */
	const char *s;
	uint32_t len, rec;
};

static int item_cmp(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	size_t n;
	int c;

	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	n = a->len < b->len ? a->len : b->len;
	c = memcmp(a->s, b->s, n);
	if (c != 0)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return (a->rec > b->rec) - (a->rec < b->rec);
}

static void item_set(struct item *it, const char *s, uint32_t len, uint32_t rec)
{
	it->prefix = 0;
	for (uint32_t i = 0; i < 8; i++)
		it->prefix =
		    it->prefix << 8 | (i < len ? (unsigned char)s[i] : 0u);
	it->s = s;
	it->len = len;
	it->rec = rec;
}

/* Reverse UTF-8 by code points into out (len bytes). */
static void reverse_utf8(const char *s, uint32_t len, char *out)
{
	uint32_t i = 0;

	while (i < len) {
		uint32_t j = i + 1;

		while (j < len && ((unsigned char)s[j] & 0xc0) == 0x80)
			j++;
		memcpy(out + len - j, s + i, j - i);
		i = j;
	}
}

/* ---- pairs ------------------------------------------------------------ */

static int push_pair(struct vec *pairs, uint32_t x, uint32_t y, unsigned bit)
{
	if (x == y)
		return KT_OK;
	return vec_push(pairs,
			x < y ? ktm_pair(x, y, bit) : ktm_pair(y, x, bit));
}

static int window_pairs(const struct item *it, size_t n, unsigned w,
			struct vec *pairs, unsigned bit)
{
	for (size_t i = 0; i < n; i++)
		for (size_t d = 1; d < w && i + d < n; d++)
			if (push_pair(pairs, it[i].rec, it[i + d].rec, bit) !=
			    KT_OK)
				return KT_ERR_NOMEM;
	return KT_OK;
}

static int oversize_block(struct kt_match *m, const uint32_t *recs, size_t n,
			  struct vec *pairs, unsigned bit)
{
	const struct kt_match_table *t = m->t;
	struct item *it;
	size_t k = 0;
	int r;

	if (m->p->oversize_window == 0)
		return KT_OK;
	it = malloc(n * sizeof(*it));
	if (it == NULL)
		return KT_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t v =
		    ktm_cell(t, recs[i], (unsigned)m->p->oversize_sort_field);

		item_set(&it[k++], ktm_pool_str(&t->vals, v),
			 ktm_pool_len(&t->vals, v), recs[i]);
	}
	qsort(it, k, sizeof(*it), item_cmp);
	r = window_pairs(it, k, m->p->oversize_window, pairs, bit);
	free(it);
	return r;
}

/* Group sorted key entries into blocks and emit their pairs. */
static int blocks_to_pairs(struct kt_match *m, const struct ktm_pass *ps,
			   struct kt_match_pass_stats *st, const uint64_t *e,
			   size_t n, struct vec *pairs, unsigned bit)
{
	uint32_t *blk = NULL;
	size_t cap = 0;
	int r = KT_OK;

	for (size_t i = 0; i < n;) {
		uint64_t key = e[i] >> REC_BITS;
		size_t s = 0, j = i;

		for (; j < n && e[j] >> REC_BITS == key; j++) {
			uint32_t rec = (uint32_t)(e[j] & REC_MASK);

			if (j > i && e[j] == e[j - 1])
				continue; /* one record, one key, twice */
			if (s == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				uint32_t *nb = realloc(blk, ncap * sizeof(*nb));

				if (nb == NULL) {
					r = KT_ERR_NOMEM;
					goto cleanup;
				}
				blk = nb;
				cap = ncap;
			}
			blk[s++] = rec;
		}
		i = j;
		if (s < 2)
			continue;
		st->blocks++;
		if (s > ps->max_block_size) {
			st->oversize_blocks++;
			st->oversize_records += s;
			r = oversize_block(m, blk, s, pairs, bit);
			if (r != KT_OK)
				goto cleanup;
			continue;
		}
		for (size_t x = 0; x < s; x++)
			for (size_t y = x + 1; y < s; y++)
				if (vec_push(pairs, ktm_pair(blk[x], blk[y],
							     bit)) != KT_OK) {
					r = KT_ERR_NOMEM;
					goto cleanup;
				}
	}
cleanup:
	free(blk);
	return r;
}

static int keyed_pass(struct kt_match *m, unsigned pi, struct vec *pairs)
{
	const struct ktm_pass *ps = &m->p->passes[pi];
	struct kt_match_pass_stats *st = &m->stats[pi];
	struct emit *e = NULL;
	uint64_t *all = NULL, *tmp = NULL;
	size_t total = 0;
	unsigned nt = m->threads;
	int r = KT_OK;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return KT_ERR_NOMEM;
	e->m = m;
	e->ps = ps;
	e->pass = pi;
	if (ps->method == KTM_PASS_MINHASH) {
		for (unsigned i = 0; i < ps->bands * ps->rows; i++) {
			e->mh_a[i] =
			    ktm_mix64(ps->seed * 0x9e3779b97f4a7c15ull + 2 * i +
				      1) |
			    1u;
			e->mh_b[i] = ktm_mix64(
			    ps->seed + 0x632be59bd9b4e019ull * (2 * i + 2));
		}
	}
	ktm_parallel(nt, m->t->n, emit_work, e);
	for (unsigned i = 0; i < 64; i++) {
		if (e->failed[i])
			r = KT_ERR_NOMEM;
		total += e->out[i].n;
	}
	if (r != KT_OK)
		goto cleanup;
	all = malloc((total + 1) * sizeof(*all));
	tmp = malloc((total + 1) * sizeof(*tmp));
	if (all == NULL || tmp == NULL) {
		r = KT_ERR_NOMEM;
		goto cleanup;
	}
	total = 0;
	for (unsigned i = 0; i < 64; i++) {
		if (e->out[i].n > 0)
			memcpy(all + total, e->out[i].v,
			       e->out[i].n * sizeof(*all));
		total += e->out[i].n;
		free(e->out[i].v);
		e->out[i].v = NULL;
	}
	st->keys = total;
	ktm_radix_u64(all, tmp, total, 0, 64);
	free(tmp);
	tmp = NULL;
	r = blocks_to_pairs(m, ps, st, all, total, pairs, 1u << pi);
cleanup:
	for (unsigned i = 0; i < 64; i++)
		free(e->out[i].v);
	free(e);
	free(all);
	free(tmp);
	return r;
}

static int sorted_pass(struct kt_match *m, unsigned pi, struct vec *pairs)
{
	const struct ktm_pass *ps = &m->p->passes[pi];
	const struct kt_match_table *t = m->t;
	struct item *it = NULL;
	char *rev = NULL;
	size_t n = 0, revlen = 0, pos = 0;
	int r = KT_OK;

	it = malloc(((size_t)t->n + 1) * sizeof(*it));
	if (it == NULL)
		return KT_ERR_NOMEM;
	if (ps->reversed) {
		for (uint32_t rec = 0; rec < t->n; rec++)
			revlen +=
			    ktm_pool_len(&t->vals, ktm_cell(t, rec, ps->field));
		rev = malloc(revlen + 1);
		if (rev == NULL) {
			r = KT_ERR_NOMEM;
			goto cleanup;
		}
	}
	for (uint32_t rec = 0; rec < t->n; rec++) {
		uint32_t v = ktm_cell(t, rec, ps->field);
		const char *s = ktm_pool_str(&t->vals, v);
		uint32_t len = ktm_pool_len(&t->vals, v);

		if (v == 0)
			continue;
		if (ps->reversed) {
			reverse_utf8(s, len, rev + pos);
			s = rev + pos;
			pos += len;
		}
		item_set(&it[n++], s, len, rec);
	}
	qsort(it, n, sizeof(*it), item_cmp);
	m->stats[pi].keys = n;
	m->stats[pi].blocks = n > 1 ? n - 1 : 0;
	r = window_pairs(it, n, ps->window, pairs, 1u << pi);
cleanup:
	free(rev);
	free(it);
	return r;
}

/* Sort, de-duplicate; then merge into m->pairs, OR-ing pass bits. */
static int merge_pass(struct kt_match *m, unsigned pi, struct vec *pass)
{
	struct kt_match_pass_stats *st = &m->stats[pi];
	uint64_t *tmp = malloc((pass->n + 1) * sizeof(*tmp)), *out;
	size_t k = 0, i = 0, j = 0, o = 0;

	if (tmp == NULL)
		return KT_ERR_NOMEM;
	ktm_radix_u64(pass->v, tmp, pass->n, 8, 64);
	free(tmp);
	for (size_t x = 0; x < pass->n; x++)
		if (k == 0 || pass->v[k - 1] != pass->v[x])
			pass->v[k++] = pass->v[x];
	pass->n = k;
	st->produced = k;
	out = malloc((m->npairs + k + 1) * sizeof(*out));
	if (out == NULL)
		return KT_ERR_NOMEM;
	while (i < m->npairs || j < k) {
		uint64_t a = i < m->npairs ? m->pairs[i] >> 8 : UINT64_MAX;
		uint64_t b = j < k ? pass->v[j] >> 8 : UINT64_MAX;

		if (a < b) {
			out[o++] = m->pairs[i++];
		} else if (b < a) {
			out[o++] = pass->v[j++];
			st->new_pairs++;
		} else {
			out[o++] = m->pairs[i++] | pass->v[j++];
		}
	}
	free(m->pairs);
	m->pairs = out;
	m->npairs = o;
	return KT_OK;
}

int kt_match_block(struct kt_match *m, struct kt_error *err)
{
	double t0 = ktm_now();
	struct vec pass = {0};
	int r = KT_OK;

	if (m->blocked)
		return kt_error_set(err, KT_ERR_INVALID,
				    "match: blocking already done");
	for (unsigned pi = 0; pi < m->p->npasses; pi++) {
		const struct ktm_pass *ps = &m->p->passes[pi];

		memset(&m->stats[pi], 0, sizeof(m->stats[pi]));
		m->stats[pi].name = ps->name;
		pass.n = 0;
		r = ps->method == KTM_PASS_SORTED ? sorted_pass(m, pi, &pass)
						  : keyed_pass(m, pi, &pass);
		if (r == KT_OK)
			r = merge_pass(m, pi, &pass);
		if (r != KT_OK) {
			kt_error_set(err, r, "match: blocking pass '%s': %s",
				     ps->name, kt_strerror(r));
			break;
		}
	}
	free(pass.v);
	if (r == KT_OK)
		m->blocked = 1;
	m->secs_block = ktm_now() - t0;
	return r;
}
