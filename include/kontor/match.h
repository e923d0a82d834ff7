#ifndef KONTOR_MATCH_H
#define KONTOR_MATCH_H

/*
 * Record linkage over a table of string fields (docs/matching.md).
 *
 *   profile   JSON: the fields, how each is compared, which are strong
 *             identifiers, the blocking passes, thresholds and EM settings.
 *   table     the records: an id and one interned string per field, with a
 *             per-cell validity flag (an identifier that failed its check
 *             digit is kept but never used as proof of identity).
 *   run       block -> compare -> estimate (EM) -> cluster, each a call, so
 *             a caller can time and report every stage.
 *
 * Scoring is Fellegi-Sunter: each field's comparison gives a level, each
 * level a weight log2(m/u), a pair's weight is the sum. m and u come from
 * EM over the candidate pairs. Pairs at or above the auto-merge threshold
 * are joined strongest first into clusters unless the join would put two
 * different valid strong identifiers (cannot-link) into one cluster; such
 * edges are cut and reported.
 *
 * Limits are hard: at most KT_MATCH_MAX_FIELDS fields (a pair's levels pack
 * into one 64-bit pattern), KT_MATCH_MAX_PASSES passes, KT_MATCH_MAX_RECORDS
 * records (a candidate pair packs into 64 bits with its pass mask).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"

#define KT_MATCH_MAX_FIELDS 16
#define KT_MATCH_MAX_LEVELS 16 /* per field, the null level 0 included */
#define KT_MATCH_MAX_PASSES 8
#define KT_MATCH_MAX_GROUPS 4
#define KT_MATCH_MAX_COMBOS 256 /* level combinations of one group */
#define KT_MATCH_MAX_RECORDS ((1u << 28) - 1)
#define KT_MATCH_VALUE_MAX 1024 /* bytes per cell */
#define KT_MATCH_ID_MAX 256	/* bytes per record id */
#define KT_MATCH_PROFILE_MAX (1024 * 1024)
#define KT_MATCH_NONE UINT32_MAX /* "no label", "no record" */

/* ---- profile ------------------------------------------------------- */

struct kt_match_profile;

struct kt_match_em_settings {
	unsigned max_iterations; /* 0: keep the initial estimates */
	double tolerance;	 /* stop when no probability moves more */
	double initial_match_rate;
	unsigned u_sample_pairs; /* random pairs for the initial u; 0: none */
	int fix_u;		 /* keep u from the random sample */
	uint64_t seed;
};

/*
 * Parse and validate a profile. Errors carry the JSON path, e.g.
 * "profile: .fields[2].comparison: unknown comparison 'foo'".
 * Caller frees with kt_match_profile_free.
 */
int kt_match_profile_load_file(const char *path, struct kt_match_profile **out,
			       struct kt_error *err);
int kt_match_profile_load_string(const char *json,
				 struct kt_match_profile **out,
				 struct kt_error *err);
void kt_match_profile_free(struct kt_match_profile *p);

const char *kt_match_profile_name(const struct kt_match_profile *p);
unsigned kt_match_profile_nfields(const struct kt_match_profile *p);
const char *kt_match_profile_field(const struct kt_match_profile *p,
				   unsigned f);
/* Index of the named field, or -1. */
int kt_match_profile_field_index(const struct kt_match_profile *p,
				 const char *name);
int kt_match_profile_field_strong(const struct kt_match_profile *p, unsigned f);
/* Levels of field f, the null level 0 ("missing") included. */
unsigned kt_match_profile_nlevels(const struct kt_match_profile *p, unsigned f);
/* "missing", "exact", "jw>=0.95", "else", ... */
const char *kt_match_profile_level_name(const struct kt_match_profile *p,
					unsigned f, unsigned level);
/* Groups: fields scored jointly (their level combination is one factor of
 * the model, so correlated fields such as an address count once). */
unsigned kt_match_profile_ngroups(const struct kt_match_profile *p);
const char *kt_match_profile_group(const struct kt_match_profile *p,
				   unsigned g);
/* The group of field f, or -1. */
int kt_match_profile_field_group(const struct kt_match_profile *p, unsigned f);
unsigned kt_match_profile_npasses(const struct kt_match_profile *p);
const char *kt_match_profile_pass(const struct kt_match_profile *p, unsigned i);
double kt_match_profile_auto_merge(const struct kt_match_profile *p);
double kt_match_profile_review(const struct kt_match_profile *p);
const struct kt_match_em_settings *
kt_match_profile_em(const struct kt_match_profile *p);

/* ---- table --------------------------------------------------------- */

struct kt_match_table;

enum kt_match_format {
	KT_MATCH_FORMAT_AUTO, /* by file name: .jsonl/.ndjson, else TSV */
	KT_MATCH_FORMAT_TSV,
	KT_MATCH_FORMAT_JSONL,
};

/* An empty table for profile p (borrowed: must outlive the table). */
int kt_match_table_new(const struct kt_match_profile *p,
		       struct kt_match_table **out);
void kt_match_table_free(struct kt_match_table *t);

/*
 * Append a record. values: one string per profile field (NULL or "" is
 * missing); valid: one flag per field (non-zero = validated), or NULL for
 * "valid when present". Rejects a duplicate or malformed id, a value that is
 * not UTF-8 or longer than KT_MATCH_VALUE_MAX, and more than
 * KT_MATCH_MAX_RECORDS records.
 */
int kt_match_table_add(struct kt_match_table *t, const char *id,
		       const char *const *values, const int *valid,
		       struct kt_error *err);

/*
 * Read records from a TSV or JSON Lines file (format in docs/matching.md)
 * and append them. A bad row stops the read with "FILE:LINE: reason";
 * rows read before it stay in the table.
 */
int kt_match_table_read_file(struct kt_match_table *t, const char *path,
			     enum kt_match_format fmt, struct kt_error *err);

/* Write the table as TSV with a header and .valid columns. */
int kt_match_table_write_tsv(const struct kt_match_table *t, FILE *out);

size_t kt_match_table_size(const struct kt_match_table *t);
const struct kt_match_profile *
kt_match_table_profile(const struct kt_match_table *t);
const char *kt_match_table_id(const struct kt_match_table *t, uint32_t rec);
/* KT_OK and *rec, or KT_ERR_NOTFOUND. */
int kt_match_table_find(const struct kt_match_table *t, const char *id,
			uint32_t *rec);
/* The cell's string ("" when missing) and whether it is valid. */
const char *kt_match_table_value(const struct kt_match_table *t, uint32_t rec,
				 unsigned f);
int kt_match_table_valid(const struct kt_match_table *t, uint32_t rec,
			 unsigned f);

/* ---- labels: id -> label files (ground truth, clusters) ------------- */

struct kt_match_labels;

/*
 * Read a CSV or TSV file with a header row whose first two columns are a
 * record id and its label (entity or cluster); further columns are ignored.
 * Fields may be quoted as in RFC 4180.
 */
int kt_match_labels_read(const char *path, struct kt_match_labels **out,
			 struct kt_error *err);
void kt_match_labels_free(struct kt_match_labels *l);
size_t kt_match_labels_size(const struct kt_match_labels *l);
/*
 * Per record of t, a dense label number (equal labels, equal numbers) or
 * KT_MATCH_NONE for a record the file does not name. *unknown counts the
 * file's ids that are not in t. Caller frees *out with free().
 */
int kt_match_labels_for_table(const struct kt_match_labels *l,
			      const struct kt_match_table *t, uint32_t **out,
			      size_t *unknown);

/* ---- model --------------------------------------------------------- */

/*
 * The Fellegi-Sunter parameters. A field outside any group is a factor of
 * its own (m[f][level], u[f][level]); the fields of group g form one factor
 * whose level is the combination of their levels (gm[g][combo]). Level 0
 * (combination 0: all members missing) carries no weight.
 */
struct kt_match_model {
	unsigned nfields;
	unsigned nlevels[KT_MATCH_MAX_FIELDS]; /* null level 0 included */
	int group[KT_MATCH_MAX_FIELDS];	       /* -1: a factor of its own */
	unsigned ngroups;
	unsigned gsize[KT_MATCH_MAX_GROUPS]; /* combinations, 0 included */
	double lambda;			     /* P(match) of a candidate */
	double m[KT_MATCH_MAX_FIELDS][KT_MATCH_MAX_LEVELS];
	double u[KT_MATCH_MAX_FIELDS][KT_MATCH_MAX_LEVELS];
	double gm[KT_MATCH_MAX_GROUPS][KT_MATCH_MAX_COMBOS];
	double gu[KT_MATCH_MAX_GROUPS][KT_MATCH_MAX_COMBOS];
	/* m of levels the profile fixes ("fixed_m"); 0: estimated */
	double m_fixed[KT_MATCH_MAX_FIELDS][KT_MATCH_MAX_LEVELS];
};

/* A pair's comparison levels, 4 bits per field, field 0 lowest. */
static inline unsigned kt_match_pattern_level(uint64_t pattern, unsigned f)
{
	return (unsigned)(pattern >> (4 * f)) & 0xfu;
}

/* Level counts from p and neutral starting values for m, u, lambda. */
void kt_match_model_init(const struct kt_match_profile *p,
			 struct kt_match_model *model);

/*
 * Expectation-maximisation over distinct comparison patterns and their
 * counts, starting from *model and leaving the estimate in it. Level 0 of
 * a field (missing) is ignored, as missing at random. Returns the number of
 * iterations done; *converged tells whether the tolerance was reached.
 */
unsigned kt_match_em_fit(struct kt_match_model *model, const uint64_t *patterns,
			 const uint64_t *counts, size_t n,
			 const struct kt_match_em_settings *s, int *converged);

/* log2(m/u) of a level of an ungrouped field; 0 for the null level and
 * for a grouped field (its group carries the weight). */
double kt_match_model_weight(const struct kt_match_model *model, unsigned f,
			     unsigned level);
/* The combination of group g's levels in a pattern (mixed radix over the
 * members in field order, the first member varying fastest). */
unsigned kt_match_model_group_combo(const struct kt_match_model *model,
				    unsigned g, uint64_t pattern);
double kt_match_model_group_weight(const struct kt_match_model *model,
				   unsigned g, unsigned combo);
/* log2(lambda / (1 - lambda)): the weight of the prior odds. */
double kt_match_model_prior(const struct kt_match_model *model);
/*
 * A pattern's match weight: the prior plus the weight of every field and
 * group, i.e. log2 of the posterior odds that the pair is a match. The
 * thresholds apply to this, so they mean the same (2^w : 1 odds) whatever
 * the share of matches among the candidate pairs.
 */
double kt_match_model_match_weight(const struct kt_match_model *model,
				   uint64_t pattern);

/* The model as JSON (fields by name) and back. */
json_t *kt_match_model_to_json(const struct kt_match_profile *p,
			       const struct kt_match_model *model);
int kt_match_model_load_file(const struct kt_match_profile *p, const char *path,
			     struct kt_match_model *model,
			     struct kt_error *err);

/* ---- run ----------------------------------------------------------- */

struct kt_match;

enum kt_match_decision {
	KT_MATCH_NONMATCH = 0,
	KT_MATCH_REVIEW,
	KT_MATCH_MERGE, /* at or above auto-merge and joined */
	KT_MATCH_CUT,	/* at or above auto-merge but refused: cannot-link */
};

struct kt_match_pass_stats {
	const char *name;
	uint64_t keys;		   /* key values emitted */
	uint64_t blocks;	   /* blocks (or windows) with >= 2 records */
	uint64_t oversize_blocks;  /* blocks above max_block_size */
	uint64_t oversize_records; /* records in them */
	uint64_t produced;	   /* distinct pairs this pass produced */
	uint64_t new_pairs;	   /* ... that no earlier pass produced */
	uint64_t true_pairs;	   /* ... that are true matches (truth set) */
};

struct kt_match_cut {
	uint32_t a, b; /* the refused edge */
	double weight;
	unsigned field; /* the strong field in conflict */
	/* Records whose values conflict: one on each side of the edge. */
	uint32_t holder_a, holder_b;
};

/*
 * A run over table t with profile p (both borrowed). threads: worker
 * threads for the parallel stages, 0 for one per online core.
 */
int kt_match_new(const struct kt_match_profile *p,
		 const struct kt_match_table *t, unsigned threads,
		 struct kt_match **out, struct kt_error *err);
void kt_match_free(struct kt_match *m);

/* Ground truth, one label per record (KT_MATCH_NONE: unknown); borrowed.
 * Enables pair completeness per pass and the evaluation in the summary. */
void kt_match_set_truth(struct kt_match *m, const uint32_t *truth);

/* Stage 1: candidate pairs from every blocking pass. */
int kt_match_block(struct kt_match *m, struct kt_error *err);
/* Stage 2: comparison levels of every candidate pair. */
int kt_match_compare(struct kt_match *m, struct kt_error *err);
/*
 * Stage 3: m/u by EM from the candidate pairs. labels (may be NULL): known
 * entities per record (KT_MATCH_NONE: unknown), used to seed m/u from the
 * labelled candidate pairs before EM.
 */
int kt_match_estimate(struct kt_match *m, const uint32_t *labels,
		      struct kt_error *err);
/* Instead of stage 3: use a given model (e.g. from a previous run). */
int kt_match_set_model(struct kt_match *m, const struct kt_match_model *model,
		       struct kt_error *err);
const struct kt_match_model *kt_match_get_model(const struct kt_match *m);
/* Stage 4: thresholds, then clustering with cannot-link constraints. */
int kt_match_cluster(struct kt_match *m, struct kt_error *err);

size_t kt_match_npasses(const struct kt_match *m);
const struct kt_match_pass_stats *kt_match_pass(const struct kt_match *m,
						unsigned i);
/* Candidate pairs, sorted by (a, b), a < b. */
size_t kt_match_npairs(const struct kt_match *m);
/* Pair i: records, pass mask (bit i = pass i), pattern (after compare). */
void kt_match_pair(const struct kt_match *m, size_t i, uint32_t *a, uint32_t *b,
		   unsigned *passes, uint64_t *pattern);
/* Index of the candidate pair (a, b) in either order, or -1. */
long kt_match_find_pair(const struct kt_match *m, uint32_t a, uint32_t b);
/* Cluster number per record (after stage 4) and the count. */
const uint32_t *kt_match_clusters(const struct kt_match *m, uint32_t *n);
size_t kt_match_ncuts(const struct kt_match *m);
const struct kt_match_cut *kt_match_cut_at(const struct kt_match *m, size_t i);

/*
 * Check a clustering: the number of clusters holding two different valid
 * values of one strong identifier (in one scope). Independent of how the
 * clusters were made; 0 is the only acceptable answer.
 */
size_t kt_match_count_conflicts(const struct kt_match_table *t,
				const uint32_t *cluster);

/*
 * Cluster a table from explicit edges (the core of stage 4, exposed for
 * tests and tools): joins edges with weight >= min_weight strongest first,
 * refusing any that would join conflicting strong identifiers. cluster_out
 * gets a cluster number per record; *cuts (caller frees with free()) every
 * refused edge. edges are reordered.
 */
struct kt_match_edge {
	uint32_t a, b;
	double weight;
};
int kt_match_cluster_edges(const struct kt_match_table *t,
			   struct kt_match_edge *edges, size_t nedges,
			   double min_weight, uint32_t *cluster_out,
			   uint32_t *nclusters, struct kt_match_cut **cuts,
			   size_t *ncuts, struct kt_error *err);

/* ---- explain ------------------------------------------------------- */

struct kt_match_explain_field {
	unsigned level;
	double similarity; /* the raw score behind the level, or NAN */
	double m, u;
	double tf;     /* term-frequency adjustment (in weight), or 0 */
	double weight; /* log2(m/u) + tf */
};

struct kt_match_explain_group {
	unsigned combo;
	double m, u, weight;
};

struct kt_match_explanation {
	uint32_t a, b;
	int candidate;	 /* produced by blocking? */
	unsigned passes; /* which passes */
	double weight;	 /* prior + field and group weights */
	double prior, probability;
	enum kt_match_decision decision; /* by threshold and cannot-link */
	int conflict_field; /* strong field in direct conflict, or -1 */
	int same_cluster;   /* -1 before stage 4 */
	struct kt_match_explain_field fields[KT_MATCH_MAX_FIELDS];
	struct kt_match_explain_group groups[KT_MATCH_MAX_GROUPS];
};

/* Needs a model (stage 3 or kt_match_set_model). */
int kt_match_explain(const struct kt_match *m, uint32_t a, uint32_t b,
		     struct kt_match_explanation *out, struct kt_error *err);
void kt_match_explain_print(const struct kt_match *m,
			    const struct kt_match_explanation *ex, FILE *out);
json_t *kt_match_explain_json(const struct kt_match *m,
			      const struct kt_match_explanation *ex);

/* ---- output -------------------------------------------------------- */

/*
 * pairs.csv: id_a,id_b,weight,probability,decision,passes,note for the
 * merge, review and cut pairs, or every candidate pair when all is set.
 */
int kt_match_write_pairs(const struct kt_match *m, FILE *out, int all);
/* clusters.csv: id,cluster (the cluster's first record id). */
int kt_match_write_clusters(const struct kt_match *m, FILE *out);

/* The run's figures: passes, EM, decisions, clusters, timings, and with a
 * truth set pair completeness and the evaluation. */
json_t *kt_match_summary_json(const struct kt_match *m);
/* The same as aligned text (works on any object from summary_json). */
void kt_match_summary_print(const json_t *summary, FILE *out);

/* ---- review queue --------------------------------------------------- */

/*
 * The pairs between the thresholds that no other edge joined: what a person
 * decides (after stage 4). CSV: decision (empty, for the admin), id_a,
 * id_b, weight, probability, and per field "<f>:a", "<f>:b", "<f>:level",
 * "<f>:weight", per group "[<g>]:weight". HTML: a static page, every
 * pair's two records side by side with each field's level and weight;
 * every value is escaped.
 */
size_t kt_match_review_count(const struct kt_match *m);
int kt_match_write_review_csv(const struct kt_match *m, FILE *out);
int kt_match_write_review_html(const struct kt_match *m, const char *title,
			       FILE *out);

/*
 * Decisions read back from a CSV with the columns id_a, id_b and decision
 * (the review export with the decision column filled in; other columns
 * are ignored): accept (also yes, ja, merge, same, 1, x), reject (no,
 * nein, different, 0) or empty (undecided). Errors name the line: an
 * unknown decision or record id, a pair of one record, a pair both
 * accepted and rejected. Caller frees with kt_match_decisions_free.
 */
struct kt_match_decisions;
int kt_match_decisions_read(const char *path, const struct kt_match_table *t,
			    struct kt_match_decisions **out,
			    struct kt_error *err);
void kt_match_decisions_free(struct kt_match_decisions *d);
size_t kt_match_decisions_accepted(const struct kt_match_decisions *d);
size_t kt_match_decisions_rejected(const struct kt_match_decisions *d);
/*
 * Use decisions in stage 4 (borrowed; set before kt_match_cluster): an
 * accepted pair joins before every computed edge, whatever its weight
 * (unless valid strong identifiers conflict: then it is cut and reported);
 * a rejected pair never ends up in one cluster, not even through a chain
 * of other edges.
 */
void kt_match_set_decisions(struct kt_match *m,
			    const struct kt_match_decisions *d);

/* ---- evaluation ---------------------------------------------------- */

struct kt_match_eval {
	uint64_t records;
	uint64_t true_pairs, predicted_pairs, true_positives;
	double precision, recall, f1;
	uint64_t clusters, entities;
	uint64_t false_merges;	 /* clusters holding >1 true entity */
	uint64_t split_entities; /* entities spread over >1 cluster */
};

/* Pairwise evaluation of a predicted labelling against the truth; records
 * with a KT_MATCH_NONE in either array are left out. */
int kt_match_eval_labels(const uint32_t *pred, const uint32_t *truth, size_t n,
			 struct kt_match_eval *out);
/*
 * The same from files (kt_match_labels_read format). Only ids in both
 * files count; *only_truth / *only_pred (may be NULL) tell how many were
 * in one file only. No id in common is KT_ERR_INVALID.
 */
int kt_match_eval_files(const char *truth_path, const char *pred_path,
			struct kt_match_eval *out, size_t *only_truth,
			size_t *only_pred, struct kt_error *err);
json_t *kt_match_eval_json(const struct kt_match_eval *ev);

#endif
