#ifndef KONTOR_MATCH_INT_H
#define KONTOR_MATCH_INT_H

/*
 * Internals shared by lib/match_*.c. Memory layout is chosen for a million
 * records on two cores: strings interned once (a cell is a 32-bit id, equal
 * strings have equal ids, so "exact" is an integer compare), a candidate
 * pair is one uint64_t (a << 36 | b << 8 | pass mask), a pair's comparison
 * levels are one uint64_t pattern, and EM runs over the few thousand
 * distinct patterns instead of the millions of pairs.
 */

#include <stddef.h>
#include <stdint.h>

#include "kontor/match.h"

#define KTM_NAME_MAX 32
#define KTM_MAX_BANDS 8
#define KTM_MAX_KEYS 8
#define KTM_MAX_PARTS 4
#define KTM_LEVEL_NAME_MAX 24
#define KTM_TF_MAX_UP 2.0   /* bits a rare value may add, by default */
#define KTM_TF_MAX_DOWN 8.0 /* bits a common value may take away */

enum ktm_cmp {
	KTM_CMP_EXACT,
	KTM_CMP_JARO_WINKLER,
	KTM_CMP_TOKEN_SET,
	KTM_CMP_NUMERIC,
	KTM_CMP_IDENTIFIER,
	KTM_CMP_LEVENSHTEIN,
};

enum ktm_transform {
	KTM_TR_NONE,
	KTM_TR_TOKENS,
	KTM_TR_COLOGNE,
	KTM_TR_PREFIX,
};

enum ktm_method {
	KTM_PASS_EXACT,
	KTM_PASS_SORTED,
	KTM_PASS_MINHASH,
};

/* Identifier levels (after the null level 0). */
#define KTM_ID_AGREE 1
#define KTM_ID_DISAGREE 2
#define KTM_ID_OTHER_SCOPE 3

struct ktm_field {
	char name[KTM_NAME_MAX + 1];
	enum ktm_cmp cmp;
	double bands[KTM_MAX_BANDS];
	unsigned nbands;
	int containment; /* token_set: containment instead of Jaccard */
	int strong;
	unsigned scope_parts; /* identifier: leading parts naming the scope */
	char sep;
	unsigned nlevels;		     /* the null level 0 included */
	int group;			     /* -1: scored alone */
	double m_fixed[KT_MATCH_MAX_LEVELS]; /* "fixed_m"; 0: estimated */
	int tf; /* term-frequency adjustment of "exact" */
	double tf_max_up, tf_max_down;
	char level_names[KT_MATCH_MAX_LEVELS][KTM_LEVEL_NAME_MAX];
};

struct ktm_part {
	unsigned field;
	enum ktm_transform tr;
	unsigned length;     /* prefix */
	unsigned min_length; /* tokens */
	int valid_only;
};

struct ktm_pass {
	char name[KTM_NAME_MAX + 1];
	enum ktm_method method;
	/* exact: alternatives (OR) of conjunctions (AND) of parts */
	struct ktm_part parts[KTM_MAX_KEYS][KTM_MAX_PARTS];
	unsigned nkeys, nparts[KTM_MAX_KEYS];
	/* sorted_neighbourhood, minhash_lsh */
	unsigned field, window, ngram, bands, rows;
	int reversed;
	uint64_t seed;
	unsigned max_block_size;
};

struct kt_match_profile {
	char name[65];
	struct ktm_field fields[KT_MATCH_MAX_FIELDS];
	unsigned nfields;
	char group_names[KT_MATCH_MAX_GROUPS][KTM_NAME_MAX + 1];
	unsigned ngroups;
	struct ktm_pass passes[KT_MATCH_MAX_PASSES];
	unsigned npasses;
	unsigned oversize_window;
	int oversize_sort_field; /* -1: none */
	double auto_merge, review;
	struct kt_match_em_settings em;
};

/* String pool: id -> bytes (NUL-terminated), bytes -> id. */
struct ktm_pool {
	char *arena;
	size_t len, cap;
	uint32_t *off; /* count + 1 entries: off[i]..off[i+1]-1 is string i */
	uint32_t *hash;
	uint32_t count, offcap;
	uint32_t *slots; /* id + 1, 0 empty */
	uint32_t mask;
};

int ktm_pool_init(struct ktm_pool *p);
void ktm_pool_cleanup(struct ktm_pool *p);
/* *id of s (added when new); added tells which (may be NULL). */
int ktm_pool_intern(struct ktm_pool *p, const char *s, size_t n, uint32_t *id,
		    int *added);
int ktm_pool_lookup(const struct ktm_pool *p, const char *s, size_t n,
		    uint32_t *id);

static inline const char *ktm_pool_str(const struct ktm_pool *p, uint32_t id)
{
	return p->arena + p->off[id];
}

static inline uint32_t ktm_pool_len(const struct ktm_pool *p, uint32_t id)
{
	return p->off[id + 1] - p->off[id] - 1;
}

struct kt_match_table {
	const struct kt_match_profile *p;
	unsigned nf;
	uint32_t n, cap;
	uint32_t *cells; /* n * nf value ids; 0 = missing */
	uint8_t *valid;	 /* n * nf */
	struct ktm_pool ids, vals;
};

static inline uint32_t ktm_cell(const struct kt_match_table *t, uint32_t rec,
				unsigned f)
{
	return t->cells[(size_t)rec * t->nf + f];
}

static inline int ktm_valid(const struct kt_match_table *t, uint32_t rec,
			    unsigned f)
{
	return t->valid[(size_t)rec * t->nf + f];
}

/* Candidate pair packing. */
static inline uint64_t ktm_pair(uint32_t a, uint32_t b, unsigned mask)
{
	return (uint64_t)a << 36 | (uint64_t)b << 8 | mask;
}
static inline uint32_t ktm_pair_a(uint64_t p)
{
	return (uint32_t)(p >> 36);
}
static inline uint32_t ktm_pair_b(uint64_t p)
{
	return (uint32_t)(p >> 8) & 0xfffffffu;
}
static inline unsigned ktm_pair_mask(uint64_t p)
{
	return (unsigned)(p & 0xffu);
}

/* An edge for clustering: a candidate pair at or above review. */
struct ktm_edge {
	uint32_t a, b;
	double weight;
	size_t pair; /* index into pairs, or SIZE_MAX */
	int decision;
	int forced; /* accepted in review: joins first, whatever its weight */
};

/* Review decisions read back (match_review.c): pairs (a < b). */
struct kt_match_decisions {
	uint32_t *accept, *reject; /* 2 per pair */
	size_t naccept, nreject;
};

/*
 * Join edges with weight >= min_weight strongest first under the
 * cannot-link constraints (match_cluster.c). Sorts edges; sets each edge's
 * decision (MERGE, CUT, or REVIEW below min_weight); cluster_out gets a
 * dense cluster number per record, numbered in record order. cannot
 * (ncannot pairs of records, 2 ids each) are cannot-link constraints of
 * their own: pairs rejected in review.
 */
int ktm_cluster(const struct kt_match_table *t, struct ktm_edge *edges,
		size_t nedges, double min_weight, const uint32_t *cannot,
		size_t ncannot, uint32_t *cluster_out, uint32_t *nclusters,
		struct kt_match_cut **cuts, size_t *ncuts);

/* The field of a cut caused by a pair rejected in review. */
#define KTM_REVIEW_FIELD KT_MATCH_MAX_FIELDS

struct kt_match {
	const struct kt_match_profile *p;
	const struct kt_match_table *t;
	unsigned threads;
	const uint32_t *truth;

	int blocked, compared, estimated, clustered;
	uint64_t *pairs;
	size_t npairs;
	struct kt_match_pass_stats stats[KT_MATCH_MAX_PASSES];

	/* per tf_adjust field: weight adjustment of an exact agreement on
	 * each value id, and the record-weighted mean count of a value */
	float *tf[KT_MATCH_MAX_FIELDS];
	double tf_mean[KT_MATCH_MAX_FIELDS];

	/* per token_set field: per record token hashes */
	uint32_t *tok_off[KT_MATCH_MAX_FIELDS];
	uint32_t *tok[KT_MATCH_MAX_FIELDS];

	uint64_t *patterns; /* per pair */
	uint64_t *pat, *pat_count;
	double *pat_weight;
	size_t npat;
	uint32_t *pat_slots, pat_mask;

	const struct kt_match_decisions *decisions;
	uint64_t n_accepted_joined, n_accepted_cut;

	struct kt_match_model model;
	unsigned em_iterations;
	int em_converged, model_given, seeded;
	double u_sample_pairs_used;

	uint64_t n_decision[4];
	struct ktm_edge *edges; /* weight >= review, strongest first */
	size_t nedges;
	uint8_t *pair_decision; /* enum kt_match_decision per pair */
	uint32_t *cluster;
	uint32_t nclusters, largest_cluster;
	struct kt_match_cut *cuts;
	size_t ncuts;

	double secs_block, secs_compare, secs_estimate, secs_cluster;
};

/* match_score.c */
/* Level of field f for records a, b; *sim the raw score or NAN. */
unsigned ktm_compare_field(const struct kt_match *m, unsigned f, uint32_t a,
			   uint32_t b, double *sim);
uint64_t ktm_compare_pair(const struct kt_match *m, uint32_t a, uint32_t b);
double ktm_match_weight(const struct kt_match *m, uint64_t pattern);
/* The term-frequency adjustment of field f for records a, b at level
 * (0 unless the field has tf_adjust and the level is "exact"). */
double ktm_tf_adjust(const struct kt_match *m, unsigned f, uint32_t a,
		     unsigned level);
/* A candidate pair's match weight: its pattern's plus the term-frequency
 * adjustments. */
double ktm_pair_weight(const struct kt_match *m, size_t pair);
/* The review part of the summary (match_review.c). */
json_t *ktm_review_summary(const struct kt_match *m);
/* Count values and fill m->tf (compare does it). */
int ktm_tf_init(struct kt_match *m);
/* Direct conflict of strong identifiers between two records, or -1. */
int ktm_strong_conflict(const struct kt_match_table *t, uint32_t a, uint32_t b);
uint32_t ktm_scope_hash(const struct ktm_field *fd, const char *s, size_t n);

/* match_util.c: hashing, sorting, threads, time */
static inline uint64_t ktm_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}
uint64_t ktm_hash_bytes(const void *s, size_t n, uint64_t seed);
/* LSD radix sort of v[0..n) on bits [lo, hi) (16-bit digits); tmp has n. */
void ktm_radix_u64(uint64_t *v, uint64_t *tmp, size_t n, unsigned lo,
		   unsigned hi);
typedef void ktm_work_fn(void *ctx, unsigned tid, size_t lo, size_t hi);
/* Split [0, n) into threads contiguous chunks and run fn on each. */
int ktm_parallel(unsigned threads, size_t n, ktm_work_fn *fn, void *ctx);
double ktm_now(void);
/* Read a whole text file of at most max bytes (no NUL); free(*out). */
int ktm_read_small_file(const char *path, size_t max, char **out,
			const char *what, struct kt_error *err);
/* Online cores, 1..64. */
unsigned ktm_default_threads(void);

#endif
