#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/strsim.h"
#include "match_int.h"

/*
 * Comparison and the Fellegi-Sunter model.
 *
 * A pair's levels pack into a 64-bit pattern (4 bits per field). Pairs
 * are compared in parallel; each thread counts its patterns in a small
 * private hash map, so EM later iterates over the distinct patterns (a few
 * thousand) with their counts instead of millions of pairs: the classic
 * sufficient-statistics trick, exact for the conditional-independence
 * model.
 */

#define EMPTY_PATTERN UINT64_MAX /* never a pattern: levels stay below 12 */
#define PROB_FLOOR 1e-9

/* ---- comparisons -------------------------------------------------- */

static int number_of(const char *s, int64_t *out)
{
	int64_t v = 0;
	int digits = 0;

	while (*s != '\0' && (*s < '0' || *s > '9'))
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 18)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	*out = v;
	return 0;
}

uint32_t ktm_scope_hash(const struct ktm_field *fd, const char *s, size_t n)
{
	size_t i = 0;
	unsigned seps = 0;

	for (; i < n; i++)
		if (s[i] == fd->sep && ++seps == fd->scope_parts)
			break;
	return (uint32_t)ktm_hash_bytes(s, i, 7);
}

static unsigned band_up(const struct ktm_field *fd, double sim, unsigned base)
{
	for (unsigned i = 0; i < fd->nbands; i++)
		if (sim >= fd->bands[i])
			return base + i;
	return base + fd->nbands;
}

static unsigned band_down(const struct ktm_field *fd, double d, unsigned base)
{
	for (unsigned i = 0; i < fd->nbands; i++)
		if (d <= fd->bands[i])
			return base + i;
	return base + fd->nbands;
}

unsigned ktm_compare_field(const struct kt_match *m, unsigned f, uint32_t a,
			   uint32_t b, double *sim)
{
	const struct kt_match_table *t = m->t;
	const struct ktm_field *fd = &m->p->fields[f];
	uint32_t va = ktm_cell(t, a, f), vb = ktm_cell(t, b, f);
	const char *sa = ktm_pool_str(&t->vals, va);
	const char *sb = ktm_pool_str(&t->vals, vb);
	uint32_t ca[KT_STRSIM_MAX_CP], cb[KT_STRSIM_MAX_CP];
	size_t na, nb;
	int64_t xa, xb;
	double s;

	*sim = NAN;
	if (fd->cmp == KTM_CMP_IDENTIFIER) {
		if (!ktm_valid(t, a, f) || !ktm_valid(t, b, f))
			return 0;
		if (va == vb)
			return KTM_ID_AGREE;
		if (fd->scope_parts > 0 &&
		    ktm_scope_hash(fd, sa, ktm_pool_len(&t->vals, va)) !=
			ktm_scope_hash(fd, sb, ktm_pool_len(&t->vals, vb)))
			return KTM_ID_OTHER_SCOPE;
		return KTM_ID_DISAGREE;
	}
	if (va == 0 || vb == 0)
		return 0;
	switch (fd->cmp) {
	case KTM_CMP_EXACT:
		*sim = va == vb;
		return va == vb ? 1 : 2;
	case KTM_CMP_NUMERIC:
		if (number_of(sa, &xa) != 0 || number_of(sb, &xb) != 0)
			return 0;
		*sim = (double)(xa > xb ? xa - xb : xb - xa);
		return band_down(fd, *sim, 1);
	default:
		break;
	}
	if (va == vb) {
		*sim = fd->cmp == KTM_CMP_LEVENSHTEIN ? 0 : 1;
		return 1;
	}
	switch (fd->cmp) {
	case KTM_CMP_JARO_WINKLER:
		na = kt_strsim_decode(sa, ktm_pool_len(&t->vals, va), ca,
				      KT_STRSIM_MAX_CP);
		nb = kt_strsim_decode(sb, ktm_pool_len(&t->vals, vb), cb,
				      KT_STRSIM_MAX_CP);
		*sim = kt_strsim_jaro_winkler_cp(ca, na, cb, nb);
		return band_up(fd, *sim, 2);
	case KTM_CMP_TOKEN_SET: {
		const uint32_t *ta = m->tok[f] + m->tok_off[f][a];
		const uint32_t *tb = m->tok[f] + m->tok_off[f][b];
		size_t la = m->tok_off[f][a + 1] - m->tok_off[f][a];
		size_t lb = m->tok_off[f][b + 1] - m->tok_off[f][b];

		s = fd->containment ? kt_strsim_set_containment(ta, la, tb, lb)
				    : kt_strsim_set_jaccard(ta, la, tb, lb);
		*sim = s;
		return band_up(fd, s, 2);
	}
	default: /* levenshtein */
		na = kt_strsim_decode(sa, ktm_pool_len(&t->vals, va), ca,
				      KT_STRSIM_MAX_CP);
		nb = kt_strsim_decode(sb, ktm_pool_len(&t->vals, vb), cb,
				      KT_STRSIM_MAX_CP);
		*sim = kt_strsim_levenshtein_cp(
		    ca, na, cb, nb, (unsigned)fd->bands[fd->nbands - 1]);
		return band_down(fd, *sim, 2);
	}
}

uint64_t ktm_compare_pair(const struct kt_match *m, uint32_t a, uint32_t b)
{
	uint64_t pat = 0;
	double sim;

	for (unsigned f = 0; f < m->p->nfields; f++)
		pat |= (uint64_t)ktm_compare_field(m, f, a, b, &sim) << (4 * f);
	return pat;
}

int ktm_strong_conflict(const struct kt_match_table *t, uint32_t a, uint32_t b)
{
	for (unsigned f = 0; f < t->nf; f++) {
		const struct ktm_field *fd = &t->p->fields[f];
		uint32_t va = ktm_cell(t, a, f), vb = ktm_cell(t, b, f);

		if (!fd->strong || !ktm_valid(t, a, f) || !ktm_valid(t, b, f) ||
		    va == vb)
			continue;
		if (fd->scope_parts == 0 ||
		    ktm_scope_hash(fd, ktm_pool_str(&t->vals, va),
				   ktm_pool_len(&t->vals, va)) ==
			ktm_scope_hash(fd, ktm_pool_str(&t->vals, vb),
				       ktm_pool_len(&t->vals, vb)))
			return (int)f;
	}
	return -1;
}

/* Token sets per record for token_set fields, computed once. */
static int token_features(struct kt_match *m)
{
	const struct kt_match_table *t = m->t;
	uint32_t buf[KT_STRSIM_MAX_SET];

	for (unsigned f = 0; f < m->p->nfields; f++) {
		size_t total = 0;

		if (m->p->fields[f].cmp != KTM_CMP_TOKEN_SET)
			continue;
		m->tok_off[f] = malloc(((size_t)t->n + 1) * sizeof(uint32_t));
		if (m->tok_off[f] == NULL)
			return KT_ERR_NOMEM;
		for (int pass = 0; pass < 2; pass++) {
			total = 0;
			for (uint32_t r = 0; r < t->n; r++) {
				uint32_t v = ktm_cell(t, r, f);
				size_t k =
				    kt_strsim_tokens(ktm_pool_str(&t->vals, v),
						     ktm_pool_len(&t->vals, v),
						     buf, KT_STRSIM_MAX_SET);

				if (pass == 1)
					memcpy(m->tok[f] + total, buf,
					       k * sizeof(*buf));
				m->tok_off[f][r] = (uint32_t)total;
				total += k;
			}
			m->tok_off[f][t->n] = (uint32_t)total;
			if (pass == 0) {
				if (total > UINT32_MAX)
					return KT_ERR_LIMIT;
				m->tok[f] =
				    malloc((total + 1) * sizeof(uint32_t));
				if (m->tok[f] == NULL)
					return KT_ERR_NOMEM;
			}
		}
	}
	return KT_OK;
}

/* ---- pattern counting ------------------------------------------------- */

struct patmap {
	uint64_t *key, *count;
	size_t mask, n;
};

static int patmap_init(struct patmap *pm, size_t cap)
{
	pm->mask = cap - 1;
	pm->n = 0;
	pm->key = malloc(cap * sizeof(*pm->key));
	pm->count = calloc(cap, sizeof(*pm->count));
	if (pm->key == NULL || pm->count == NULL)
		return KT_ERR_NOMEM;
	memset(pm->key, 0xff, cap * sizeof(*pm->key));
	return KT_OK;
}

static void patmap_free(struct patmap *pm)
{
	free(pm->key);
	free(pm->count);
	pm->key = pm->count = NULL;
}

static size_t patmap_slot(const struct patmap *pm, uint64_t k)
{
	size_t i = ktm_mix64(k) & pm->mask;

	while (pm->key[i] != EMPTY_PATTERN && pm->key[i] != k)
		i = (i + 1) & pm->mask;
	return i;
}

static int patmap_add(struct patmap *pm, uint64_t k, uint64_t inc)
{
	size_t i = patmap_slot(pm, k);

	if (pm->key[i] == EMPTY_PATTERN) {
		if ((pm->n + 1) * 2 > pm->mask) {
			struct patmap big;

			if (patmap_init(&big, (pm->mask + 1) * 2) != KT_OK) {
				patmap_free(&big);
				return KT_ERR_NOMEM;
			}
			for (size_t j = 0; j <= pm->mask; j++)
				if (pm->key[j] != EMPTY_PATTERN) {
					size_t s =
					    patmap_slot(&big, pm->key[j]);

					big.key[s] = pm->key[j];
					big.count[s] = pm->count[j];
					big.n++;
				}
			patmap_free(pm);
			*pm = big;
			i = patmap_slot(pm, k);
		}
		pm->key[i] = k;
		pm->n++;
	}
	pm->count[i] += inc;
	return KT_OK;
}

struct cmp_ctx {
	struct kt_match *m;
	struct patmap maps[64];
	int failed[64];
};

static void compare_work(void *arg, unsigned tid, size_t lo, size_t hi)
{
	struct cmp_ctx *c = arg;
	struct kt_match *m = c->m;

	if (patmap_init(&c->maps[tid], 1024) != KT_OK) {
		c->failed[tid] = 1;
		return;
	}
	const struct kt_match_table *t = m->t;
	unsigned nf = t->nf;

	for (size_t i = lo; i < hi; i++) {
		uint64_t pat;

		/*
		 * Pairs are sorted by a, so b jumps around the table: every
		 * comparison waits on cache misses (cell, offset, bytes).
		 * Prefetch that chain for pairs a little ahead, one link per
		 * distance, so the loads overlap instead of queueing.
		 */
		if (i + 16 < hi)
			__builtin_prefetch(
			    &t->cells[(size_t)ktm_pair_b(m->pairs[i + 16]) *
				      nf]);
		if (i + 8 < hi) {
			const uint32_t *cl =
			    &t->cells[(size_t)ktm_pair_b(m->pairs[i + 8]) * nf];

			for (unsigned f = 0; f < nf; f++)
				__builtin_prefetch(&t->vals.off[cl[f]]);
		}
		if (i + 4 < hi) {
			const uint32_t *cl =
			    &t->cells[(size_t)ktm_pair_b(m->pairs[i + 4]) * nf];

			for (unsigned f = 0; f < nf; f++)
				__builtin_prefetch(t->vals.arena +
						   t->vals.off[cl[f]]);
		}
		pat = ktm_compare_pair(m, ktm_pair_a(m->pairs[i]),
				       ktm_pair_b(m->pairs[i]));

		m->patterns[i] = pat;
		if (patmap_add(&c->maps[tid], pat, 1) != KT_OK) {
			c->failed[tid] = 1;
			return;
		}
	}
}

/* The distinct patterns with counts, and a lookup from pattern to index. */
static int collect_patterns(struct kt_match *m, struct cmp_ctx *c)
{
	struct patmap all;
	size_t k = 0;
	int r;

	if ((r = patmap_init(&all, 1024)) != KT_OK)
		goto cleanup;
	for (unsigned i = 0; i < 64; i++) {
		if (c->maps[i].key == NULL)
			continue;
		for (size_t j = 0; j <= c->maps[i].mask; j++)
			if (c->maps[i].key[j] != EMPTY_PATTERN &&
			    (r = patmap_add(&all, c->maps[i].key[j],
					    c->maps[i].count[j])) != KT_OK)
				goto cleanup;
	}
	m->pat = malloc((all.n + 1) * sizeof(*m->pat));
	m->pat_count = malloc((all.n + 1) * sizeof(*m->pat_count));
	m->pat_weight = calloc(all.n + 1, sizeof(*m->pat_weight));
	m->pat_slots = malloc((all.mask + 1) * sizeof(*m->pat_slots));
	if (m->pat == NULL || m->pat_count == NULL || m->pat_weight == NULL ||
	    m->pat_slots == NULL) {
		r = KT_ERR_NOMEM;
		goto cleanup;
	}
	/* The lookup reuses the map's slots: slot -> index + 1. */
	for (size_t j = 0; j <= all.mask; j++) {
		m->pat_slots[j] = 0;
		if (all.key[j] == EMPTY_PATTERN)
			continue;
		m->pat[k] = all.key[j];
		m->pat_count[k] = all.count[j];
		m->pat_slots[j] = (uint32_t)++k;
	}
	m->npat = k;
	m->pat_mask = (uint32_t)all.mask;
	r = KT_OK;
cleanup:
	patmap_free(&all);
	return r;
}

/* Index of a pattern seen by compare, or -1. */
static long pattern_index(const struct kt_match *m, uint64_t pat)
{
	size_t i = ktm_mix64(pat) & m->pat_mask;

	for (;; i = (i + 1) & m->pat_mask) {
		uint32_t s = m->pat_slots[i];

		if (s == 0)
			return -1;
		if (m->pat[s - 1] == pat)
			return (long)s - 1;
	}
}

double ktm_match_weight(const struct kt_match *m, uint64_t pat)
{
	long i = m->pat_slots != NULL ? pattern_index(m, pat) : -1;

	if (i >= 0)
		return m->pat_weight[i];
	return kt_match_model_match_weight(&m->model, pat);
}

/*
 * Term-frequency adjustment (docs/matching.md): an exact agreement on a
 * value that many records share ("tennisclub mannheim", "info@...") is
 * weaker evidence than one on a rare value. If p_v is the share of records
 * holding value v, a matching pair agrees on v with probability ~ p_v and a
 * non-matching one with ~ p_v^2, so the weight of "exact on v" exceeds the
 * level's average weight by log2(S / p_v), S = sum of p_w^2: in counts,
 * log2(mean / c_v) with mean = sum c^2 / sum c, the record-weighted mean
 * count. Bounded by the field's max_up and max_down.
 */
int ktm_tf_init(struct kt_match *m)
{
	const struct kt_match_table *t = m->t;
	uint32_t nv = t->vals.count;

	for (unsigned f = 0; f < m->p->nfields; f++) {
		const struct ktm_field *fd = &m->p->fields[f];
		uint32_t *cnt;
		double s1 = 0, s2 = 0, mean;

		if (!fd->tf)
			continue;
		cnt = calloc((size_t)nv + 1, sizeof(*cnt));
		m->tf[f] = calloc((size_t)nv + 1, sizeof(float));
		if (cnt == NULL || m->tf[f] == NULL) {
			free(cnt);
			return KT_ERR_NOMEM;
		}
		for (uint32_t r = 0; r < t->n; r++)
			cnt[ktm_cell(t, r, f)]++;
		cnt[0] = 0; /* missing */
		for (uint32_t v = 1; v < nv; v++) {
			s1 += cnt[v];
			s2 += (double)cnt[v] * cnt[v];
		}
		mean = s1 > 0 ? s2 / s1 : 1;
		m->tf_mean[f] = mean;
		for (uint32_t v = 1; v < nv; v++) {
			double w;

			if (cnt[v] == 0)
				continue;
			w = log2(mean / cnt[v]);
			if (w > fd->tf_max_up)
				w = fd->tf_max_up;
			if (w < -fd->tf_max_down)
				w = -fd->tf_max_down;
			m->tf[f][v] = (float)w;
		}
		free(cnt);
	}
	return KT_OK;
}

double ktm_tf_adjust(const struct kt_match *m, unsigned f, uint32_t a,
		     unsigned level)
{
	if (m->tf[f] == NULL || level != 1)
		return 0;
	return m->tf[f][ktm_cell(m->t, a, f)];
}

double ktm_pair_weight(const struct kt_match *m, size_t pair)
{
	uint64_t pat = m->patterns[pair];
	uint32_t a = ktm_pair_a(m->pairs[pair]);
	double w = ktm_match_weight(m, pat);

	for (unsigned f = 0; f < m->p->nfields; f++)
		if (m->tf[f] != NULL)
			w += ktm_tf_adjust(m, f, a,
					   kt_match_pattern_level(pat, f));
	return w;
}

int kt_match_compare(struct kt_match *m, struct kt_error *err)
{
	double t0 = ktm_now();
	struct cmp_ctx *c = NULL;
	int r;

	if (!m->blocked || m->compared)
		return kt_error_set(
		    err, KT_ERR_INVALID,
		    "match: compare needs blocking first, once");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "match: out of memory");
	c->m = m;
	m->patterns = malloc((m->npairs + 1) * sizeof(*m->patterns));
	r = m->patterns == NULL ? KT_ERR_NOMEM : token_features(m);
	if (r == KT_OK)
		r = ktm_tf_init(m);
	if (r != KT_OK)
		goto cleanup;
	ktm_parallel(m->threads, m->npairs, compare_work, c);
	for (unsigned i = 0; i < 64; i++)
		if (c->failed[i])
			r = KT_ERR_NOMEM;
	if (r == KT_OK)
		r = collect_patterns(m, c);
cleanup:
	for (unsigned i = 0; i < 64; i++)
		patmap_free(&c->maps[i]);
	free(c);
	m->secs_compare = ktm_now() - t0;
	if (r != KT_OK)
		return kt_error_set(err, r, "match: compare: %s",
				    kt_strerror(r));
	m->compared = 1;
	return KT_OK;
}

/* ---- the model -------------------------------------------------------- */

/*
 * EM, u sampling and label seeding work on "factors": an ungrouped field,
 * or a group whose level is the combination of its members' levels.
 */
#define MAX_FACTORS (KT_MATCH_MAX_FIELDS + KT_MATCH_MAX_GROUPS)

struct factor {
	double *m, *u;
	unsigned size;
	const double *fixed; /* fixed m per level (0: free), or NULL */
};

static unsigned model_factors(struct kt_match_model *md, struct factor *F)
{
	unsigned n = 0;

	for (unsigned f = 0; f < md->nfields; f++)
		if (md->group[f] < 0)
			F[n++] = (struct factor){
			    md->m[f], md->u[f], md->nlevels[f], md->m_fixed[f]};
	for (unsigned g = 0; g < md->ngroups; g++)
		F[n++] =
		    (struct factor){md->gm[g], md->gu[g], md->gsize[g], NULL};
	return n;
}

unsigned kt_match_model_group_combo(const struct kt_match_model *md, unsigned g,
				    uint64_t pattern)
{
	unsigned combo = 0, stride = 1;

	for (unsigned f = 0; f < md->nfields; f++) {
		unsigned l;

		if (md->group[f] != (int)g)
			continue;
		l = kt_match_pattern_level(pattern, f);
		if (l >= md->nlevels[f])
			l = 0;
		combo += l * stride;
		stride *= md->nlevels[f];
	}
	return combo;
}

/* The level of every factor of a pattern, in model_factors order. */
static void factor_levels(const struct kt_match_model *md, uint64_t pat,
			  unsigned *lv)
{
	unsigned n = 0;

	for (unsigned f = 0; f < md->nfields; f++) {
		unsigned l = kt_match_pattern_level(pat, f);

		if (md->group[f] < 0)
			lv[n++] = l < md->nlevels[f] ? l : 0;
	}
	for (unsigned g = 0; g < md->ngroups; g++)
		lv[n++] = kt_match_model_group_combo(md, g, pat);
}

/*
 * Normalise counts of levels 1..size-1 into probabilities. The half-count
 * pseudo-observation keeps a level never seen among (say) matches from
 * getting probability 0 and an infinite weight.
 */
static void normalise(double *num, const double *counts, unsigned size)
{
	double total = 0;

	for (unsigned l = 1; l < size; l++)
		total += counts[l] + 0.5;
	for (unsigned l = 1; l < size; l++)
		num[l] = (counts[l] + 0.5) / total;
	num[0] = 0;
}

/*
 * Levels whose m the profile fixes keep it; the free levels share the rest
 * in the proportions EM found. A fixed m states a fact EM cannot learn from
 * the data: two different valid VAT ids are almost never one company, even
 * when the candidate pairs hold many look-alike companies that EM would
 * otherwise take for a class of matches.
 */
static void apply_fixed(double *m, const double *fixed, unsigned size)
{
	double fsum = 0, free_sum = 0;

	if (fixed == NULL)
		return;
	for (unsigned l = 1; l < size; l++) {
		if (fixed[l] > 0)
			fsum += fixed[l];
		else
			free_sum += m[l];
	}
	if (fsum == 0)
		return;
	for (unsigned l = 1; l < size; l++)
		m[l] = fixed[l] > 0   ? fixed[l]
		       : free_sum > 0 ? m[l] / free_sum * (1 - fsum)
				      : 0;
}

void kt_match_model_init(const struct kt_match_profile *p,
			 struct kt_match_model *model)
{
	memset(model, 0, sizeof(*model));
	model->nfields = p->nfields;
	model->ngroups = p->ngroups;
	model->lambda = p->em.initial_match_rate;
	for (unsigned f = 0; f < p->nfields; f++) {
		const struct ktm_field *fd = &p->fields[f];
		unsigned K = fd->nlevels - 1; /* non-null levels 1..K */
		double ms = 0, us = 0;

		model->nlevels[f] = fd->nlevels;
		model->group[f] = fd->group;
		/* Agreement levels are likely among matches and rare among
		 * non-matches; EM moves them from here. */
		for (unsigned l = 1; l <= K; l++) {
			if (fd->cmp == KTM_CMP_IDENTIFIER) {
				model->m[f][l] =
				    l == KTM_ID_AGREE ? 0.95 : 0.025;
				model->u[f][l] = l == KTM_ID_AGREE ? 0.01 : 0.5;
			} else {
				model->m[f][l] =
				    l < K ? ldexp(1.0, -(int)(l - 1)) : 0.05;
				model->u[f][l] = l < K ? ldexp(1.0, (int)l) : 0;
			}
			ms += model->m[f][l];
			us += model->u[f][l];
		}
		for (unsigned l = 1; l <= K; l++) {
			model->m[f][l] /= ms;
			if (fd->cmp != KTM_CMP_IDENTIFIER)
				model->u[f][l] =
				    l < K ? 0.1 * model->u[f][l] / us : 0.9;
			else
				model->u[f][l] /= us;
			model->m_fixed[f][l] = fd->m_fixed[l];
		}
		apply_fixed(model->m[f], model->m_fixed[f], fd->nlevels);
	}
	/* A group starts as the product of its members (independence); the
	 * members' own rows are then unused and cleared. */
	for (unsigned g = 0; g < p->ngroups; g++) {
		double ms = 0, us = 0;
		unsigned size = 1;

		for (unsigned f = 0; f < p->nfields; f++)
			if (model->group[f] == (int)g)
				size *= model->nlevels[f];
		model->gsize[g] = size;
		for (unsigned c = 1; c < size; c++) {
			unsigned rest = c;
			double pm = 1, pu = 1;

			for (unsigned f = 0; f < p->nfields; f++) {
				unsigned l;

				if (model->group[f] != (int)g)
					continue;
				l = rest % model->nlevels[f];
				rest /= model->nlevels[f];
				if (l > 0) {
					pm *= model->m[f][l];
					pu *= model->u[f][l];
				}
			}
			model->gm[g][c] = pm;
			model->gu[g][c] = pu;
			ms += pm;
			us += pu;
		}
		for (unsigned c = 1; c < size; c++) {
			model->gm[g][c] /= ms;
			model->gu[g][c] /= us;
		}
	}
	for (unsigned f = 0; f < p->nfields; f++)
		if (model->group[f] >= 0)
			for (unsigned l = 0; l < KT_MATCH_MAX_LEVELS; l++)
				model->m[f][l] = model->u[f][l] = 0;
}

static double clampp(double x)
{
	return x < PROB_FLOOR ? PROB_FLOOR : x;
}

double kt_match_model_weight(const struct kt_match_model *model, unsigned f,
			     unsigned level)
{
	if (level == 0 || f >= model->nfields || model->group[f] >= 0 ||
	    level >= model->nlevels[f])
		return 0;
	return log2(clampp(model->m[f][level]) / clampp(model->u[f][level]));
}

double kt_match_model_group_weight(const struct kt_match_model *model,
				   unsigned g, unsigned combo)
{
	if (combo == 0 || g >= model->ngroups || combo >= model->gsize[g])
		return 0;
	return log2(clampp(model->gm[g][combo]) / clampp(model->gu[g][combo]));
}

double kt_match_model_prior(const struct kt_match_model *model)
{
	return log2(clampp(model->lambda) / clampp(1 - model->lambda));
}

double kt_match_model_match_weight(const struct kt_match_model *model,
				   uint64_t pattern)
{
	double w = kt_match_model_prior(model);

	for (unsigned f = 0; f < model->nfields; f++)
		w += kt_match_model_weight(model, f,
					   kt_match_pattern_level(pattern, f));
	for (unsigned g = 0; g < model->ngroups; g++)
		w += kt_match_model_group_weight(
		    model, g, kt_match_model_group_combo(model, g, pattern));
	return w;
}

unsigned kt_match_em_fit(struct kt_match_model *model, const uint64_t *patterns,
			 const uint64_t *counts, size_t n,
			 const struct kt_match_em_settings *s, int *converged)
{
	struct factor F[MAX_FACTORS], N[MAX_FACTORS];
	double *buf, *lm, *lu, *cm, *cu;
	const size_t stride = KT_MATCH_MAX_COMBOS;
	unsigned nf, lv[MAX_FACTORS], it;

	*converged = 0;
	/* Four tables of factors x levels: too big for a thread stack. */
	buf = malloc(4 * MAX_FACTORS * stride * sizeof(*buf));
	if (buf == NULL)
		return 0;
	lm = buf;
	lu = lm + MAX_FACTORS * stride;
	cm = lu + MAX_FACTORS * stride;
	cu = cm + MAX_FACTORS * stride;
	for (it = 0; it < s->max_iterations; it++) {
		double total = 0, gm = 0, delta = 0, lam;
		struct kt_match_model next = *model;

		nf = model_factors(model, F);
		model_factors(&next, N);
		for (unsigned i = 0; i < nf; i++)
			for (unsigned l = 1; l < F[i].size; l++) {
				lm[i * stride + l] = log(clampp(F[i].m[l]));
				lu[i * stride + l] = log(clampp(F[i].u[l]));
				cm[i * stride + l] = cu[i * stride + l] = 0;
			}
		/* E-step: P(match | pattern), in logs for stability. */
		for (size_t k = 0; k < n; k++) {
			double a = log(clampp(model->lambda));
			double b = log(clampp(1 - model->lambda));
			double g, c = (double)counts[k];

			factor_levels(model, patterns[k], lv);
			for (unsigned i = 0; i < nf; i++) {
				if (lv[i] == 0)
					continue;
				a += lm[i * stride + lv[i]];
				b += lu[i * stride + lv[i]];
			}
			g = 1.0 / (1.0 + exp(b - a));
			total += c;
			gm += c * g;
			for (unsigned i = 0; i < nf; i++) {
				if (lv[i] == 0)
					continue;
				cm[i * stride + lv[i]] += c * g;
				cu[i * stride + lv[i]] += c * (1 - g);
			}
		}
		if (total == 0)
			break;
		/* M-step. */
		lam = gm / total;
		next.lambda = lam < 1e-9       ? 1e-9
			      : lam > 1 - 1e-9 ? 1 - 1e-9
					       : lam;
		for (unsigned i = 0; i < nf; i++) {
			normalise(N[i].m, cm + i * stride, F[i].size);
			apply_fixed(N[i].m, F[i].fixed, F[i].size);
			if (!s->fix_u)
				normalise(N[i].u, cu + i * stride, F[i].size);
			for (unsigned l = 1; l < F[i].size; l++) {
				delta =
				    fmax(delta, fabs(N[i].m[l] - F[i].m[l]));
				delta =
				    fmax(delta, fabs(N[i].u[l] - F[i].u[l]));
			}
		}
		delta = fmax(delta, fabs(next.lambda - model->lambda));
		*model = next;
		if (delta < s->tolerance) {
			*converged = 1;
			it++;
			break;
		}
	}
	free(buf);
	return it;
}

/* Count factor levels of a pattern into per-factor tables. */
static void count_levels(const struct kt_match_model *md, uint64_t pat,
			 double *counts, double w)
{
	unsigned lv[MAX_FACTORS], nf = md->nfields;

	factor_levels(md, pat, lv);
	nf = 0;
	for (unsigned f = 0; f < md->nfields; f++)
		nf += md->group[f] < 0;
	nf += md->ngroups;
	for (unsigned i = 0; i < nf; i++)
		counts[i * KT_MATCH_MAX_COMBOS + lv[i]] += w;
}

/* u from random record pairs: almost all of them are non-matches. The
 * pairs come from a seeded generator, split over the threads by index, so
 * the sample is the same whatever the thread count. */
struct sample_ctx {
	struct kt_match *m;
	double *cnt[64];
	int failed[64];
};

static void sample_work(void *arg, unsigned tid, size_t lo, size_t hi)
{
	struct sample_ctx *c = arg;
	const struct kt_match_table *t = c->m->t;
	double *cnt = calloc(MAX_FACTORS * KT_MATCH_MAX_COMBOS, sizeof(*cnt));

	c->cnt[tid] = cnt;
	if (cnt == NULL) {
		c->failed[tid] = 1;
		return;
	}
	for (size_t i = lo; i < hi; i++) {
		uint64_t x = ktm_mix64(c->m->p->em.seed ^ (2 * i + 1));
		uint32_t a = (uint32_t)(x % t->n);
		uint32_t b = (uint32_t)(ktm_mix64(x) % t->n);

		if (a != b)
			count_levels(&c->m->model, ktm_compare_pair(c->m, a, b),
				     cnt, 1);
	}
}

static int sample_u(struct kt_match *m)
{
	const struct kt_match_table *t = m->t;
	struct factor F[MAX_FACTORS];
	struct sample_ctx *c;
	uint64_t want = m->p->em.u_sample_pairs;
	uint64_t distinct = (uint64_t)t->n * (t->n - 1) / 2;
	unsigned nf;
	int r = KT_OK;

	if (t->n < 2 || want == 0)
		return KT_OK;
	/* A small table has fewer distinct pairs than the sample size. */
	if (want > distinct)
		want = distinct;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return KT_ERR_NOMEM;
	c->m = m;
	ktm_parallel(m->threads, want, sample_work, c);
	for (unsigned i = 1; i < 64; i++)
		if (c->cnt[i] != NULL && c->cnt[0] != NULL)
			for (size_t k = 0;
			     k < MAX_FACTORS * KT_MATCH_MAX_COMBOS; k++)
				c->cnt[0][k] += c->cnt[i][k];
	for (unsigned i = 0; i < 64; i++)
		if (c->failed[i])
			r = KT_ERR_NOMEM;
	if (r == KT_OK) {
		nf = model_factors(&m->model, F);
		for (unsigned i = 0; i < nf; i++)
			normalise(F[i].u, c->cnt[0] + i * KT_MATCH_MAX_COMBOS,
				  F[i].size);
		m->u_sample_pairs_used = (double)want;
	}
	for (unsigned i = 0; i < 64; i++)
		free(c->cnt[i]);
	free(c);
	return r;
}

/* m, u and lambda from the labelled candidate pairs. */
static int seed_from_labels(struct kt_match *m, const uint32_t *labels)
{
	struct factor F[MAX_FACTORS];
	double *cm, *cu, nm = 0, nu = 0;
	unsigned nf;

	cm = calloc(2 * MAX_FACTORS * KT_MATCH_MAX_COMBOS, sizeof(*cm));
	if (cm == NULL)
		return KT_ERR_NOMEM;
	cu = cm + MAX_FACTORS * KT_MATCH_MAX_COMBOS;
	for (size_t i = 0; i < m->npairs; i++) {
		uint32_t a = ktm_pair_a(m->pairs[i]),
			 b = ktm_pair_b(m->pairs[i]);

		if (labels[a] == KT_MATCH_NONE || labels[b] == KT_MATCH_NONE)
			continue;
		if (labels[a] == labels[b]) {
			count_levels(&m->model, m->patterns[i], cm, 1);
			nm++;
		} else {
			count_levels(&m->model, m->patterns[i], cu, 1);
			nu++;
		}
	}
	/* One class only: nothing to learn from. */
	if (nm > 0 && nu > 0) {
		nf = model_factors(&m->model, F);
		for (unsigned i = 0; i < nf; i++) {
			normalise(F[i].m, cm + i * KT_MATCH_MAX_COMBOS,
				  F[i].size);
			if (!m->p->em.fix_u)
				normalise(F[i].u, cu + i * KT_MATCH_MAX_COMBOS,
					  F[i].size);
		}
		m->model.lambda = nm / (nm + nu);
		m->seeded = 1;
	}
	free(cm);
	return KT_OK;
}

static void pattern_weights(struct kt_match *m)
{
	for (size_t i = 0; i < m->npat; i++)
		m->pat_weight[i] =
		    kt_match_model_match_weight(&m->model, m->pat[i]);
}

int kt_match_estimate(struct kt_match *m, const uint32_t *labels,
		      struct kt_error *err)
{
	double t0 = ktm_now();

	if (!m->compared)
		return kt_error_set(err, KT_ERR_INVALID,
				    "match: estimate needs compare first");
	kt_match_model_init(m->p, &m->model);
	if (sample_u(m) != KT_OK ||
	    (labels != NULL && seed_from_labels(m, labels) != KT_OK))
		return kt_error_set(err, KT_ERR_NOMEM,
				    "match: estimate: out of memory");
	m->em_iterations =
	    kt_match_em_fit(&m->model, m->pat, m->pat_count, m->npat, &m->p->em,
			    &m->em_converged);
	pattern_weights(m);
	m->estimated = 1;
	m->model_given = 0;
	m->secs_estimate = ktm_now() - t0;
	return KT_OK;
}

static int model_matches(const struct kt_match_profile *p,
			 const struct kt_match_model *model)
{
	struct kt_match_model ref;

	kt_match_model_init(p, &ref);
	if (model->nfields != p->nfields || model->ngroups != p->ngroups)
		return 0;
	for (unsigned f = 0; f < p->nfields; f++)
		if (model->nlevels[f] != ref.nlevels[f] ||
		    model->group[f] != ref.group[f])
			return 0;
	for (unsigned g = 0; g < p->ngroups; g++)
		if (model->gsize[g] != ref.gsize[g])
			return 0;
	return 1;
}

int kt_match_set_model(struct kt_match *m, const struct kt_match_model *model,
		       struct kt_error *err)
{
	if (!model_matches(m->p, model))
		return kt_error_set(err, KT_ERR_INVALID,
				    "match: the model's fields and levels do "
				    "not match the profile");
	m->model = *model;
	m->model_given = 1;
	m->estimated = 1;
	if (m->pat_weight != NULL)
		pattern_weights(m);
	return KT_OK;
}

const struct kt_match_model *kt_match_get_model(const struct kt_match *m)
{
	return m->estimated ? &m->model : NULL;
}

/* ---- model files ------------------------------------------------------ */

/* The member levels of a group combination, as names. */
static json_t *combo_json(const struct kt_match_profile *p, unsigned g,
			  unsigned combo)
{
	json_t *a = json_array();

	for (unsigned f = 0; f < p->nfields; f++) {
		const struct ktm_field *fd = &p->fields[f];

		if (fd->group != (int)g)
			continue;
		json_array_append_new(
		    a, json_string(fd->level_names[combo % fd->nlevels]));
		combo /= fd->nlevels;
	}
	return a;
}

static json_t *probs_json(const double *m, const double *u, unsigned size,
			  const char *key, int which)
{
	json_t *a = json_array();

	(void)key;
	for (unsigned l = 1; l < size; l++)
		json_array_append_new(
		    a, json_real(which == 0 ? m[l]
				 : which == 1
				     ? u[l]
				     : log2(clampp(m[l]) / clampp(u[l]))));
	return a;
}

json_t *kt_match_model_to_json(const struct kt_match_profile *p,
			       const struct kt_match_model *model)
{
	json_t *fields = json_array(), *groups = json_array();

	for (unsigned f = 0; f < model->nfields && f < p->nfields; f++) {
		json_t *levels;

		if (model->group[f] >= 0)
			continue;
		levels = json_array();
		for (unsigned l = 1; l < model->nlevels[f]; l++)
			json_array_append_new(
			    levels, json_string(p->fields[f].level_names[l]));
		json_array_append_new(
		    fields, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name",
				      p->fields[f].name, "levels", levels, "m",
				      probs_json(model->m[f], model->u[f],
						 model->nlevels[f], "m", 0),
				      "u",
				      probs_json(model->m[f], model->u[f],
						 model->nlevels[f], "u", 1),
				      "weights",
				      probs_json(model->m[f], model->u[f],
						 model->nlevels[f], "w", 2)));
	}
	for (unsigned g = 0; g < model->ngroups && g < p->ngroups; g++) {
		json_t *members = json_array(), *combos = json_array();

		for (unsigned f = 0; f < p->nfields; f++)
			if (p->fields[f].group == (int)g)
				json_array_append_new(
				    members, json_string(p->fields[f].name));
		for (unsigned c = 1; c < model->gsize[g]; c++)
			json_array_append_new(combos, combo_json(p, g, c));
		json_array_append_new(
		    groups, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "name",
				      p->group_names[g], "fields", members,
				      "combos", combos, "m",
				      probs_json(model->gm[g], model->gu[g],
						 model->gsize[g], "m", 0),
				      "u",
				      probs_json(model->gm[g], model->gu[g],
						 model->gsize[g], "u", 1),
				      "weights",
				      probs_json(model->gm[g], model->gu[g],
						 model->gsize[g], "w", 2)));
	}
	return json_pack("{s:s, s:f, s:o, s:o}", "profile", p->name, "lambda",
			 model->lambda, "fields", fields, "groups", groups);
}

static int probs_from_json(json_t *arr, double *out, unsigned size)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) != size - 1)
		return -1;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_number(v) || json_number_value(v) <= 0 ||
		    json_number_value(v) > 1)
			return -1;
		out[i + 1] = json_number_value(v);
	}
	return 0;
}

/* One factor's name, m and u from a model file entry. */
static int factor_from_json(json_t *v, const char *what, size_t i,
			    const char *name, double *m, double *u,
			    unsigned size, struct kt_error *err)
{
	json_t *jn = json_object_get(v, "name");

	if (!json_is_string(jn) || strcmp(json_string_value(jn), name) != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "model: .%s[%zu].name: expected '%s'", what,
				    i, name);
	if (probs_from_json(json_object_get(v, "m"), m, size) ||
	    probs_from_json(json_object_get(v, "u"), u, size))
		return kt_error_set(err, KT_ERR_INVALID,
				    "model: .%s[%zu]: m and u must be %u "
				    "probabilities in (0, 1] each",
				    what, i, size - 1);
	return KT_OK;
}

int kt_match_model_load_file(const struct kt_match_profile *p, const char *path,
			     struct kt_match_model *model, struct kt_error *err)
{
	json_t *root = NULL, *fields, *groups, *v;
	json_error_t jerr;
	char *buf = NULL;
	size_t i = 0, nungrouped = 0;
	int r;

	kt_match_model_init(p, model);
	r = ktm_read_small_file(path, KT_MATCH_PROFILE_MAX, &buf, "model", err);
	if (r != KT_OK)
		return r;
	root = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (root == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "model: %s: line %d: %s", path, jerr.line,
				    jerr.text);
	v = json_object_get(root, "lambda");
	if (!json_is_number(v) || json_number_value(v) <= 0 ||
	    json_number_value(v) >= 1) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "model: .lambda: must be a number in (0, 1)");
		goto cleanup;
	}
	model->lambda = json_number_value(v);
	for (unsigned f = 0; f < p->nfields; f++)
		nungrouped += p->fields[f].group < 0;
	fields = json_object_get(root, "fields");
	groups = json_object_get(root, "groups");
	if (!json_is_array(fields) || json_array_size(fields) != nungrouped ||
	    !json_is_array(groups) || json_array_size(groups) != p->ngroups) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "model: must list the profile's %zu ungrouped "
				 "fields and %u groups",
				 nungrouped, p->ngroups);
		goto cleanup;
	}
	for (unsigned f = 0; f < p->nfields; f++) {
		if (p->fields[f].group >= 0)
			continue;
		r = factor_from_json(json_array_get(fields, i), "fields", i,
				     p->fields[f].name, model->m[f],
				     model->u[f], model->nlevels[f], err);
		if (r != KT_OK)
			goto cleanup;
		i++;
	}
	for (unsigned g = 0; g < p->ngroups; g++) {
		r = factor_from_json(json_array_get(groups, g), "groups", g,
				     p->group_names[g], model->gm[g],
				     model->gu[g], model->gsize[g], err);
		if (r != KT_OK)
			goto cleanup;
	}
	r = KT_OK;
cleanup:
	json_decref(root);
	return r;
}
