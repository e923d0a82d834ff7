#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/csv.h"

#include "match_int.h"

/* The run object, its accessors, explain, and the reports. */

int kt_match_new(const struct kt_match_profile *p,
		 const struct kt_match_table *t, unsigned threads,
		 struct kt_match **out, struct kt_error *err)
{
	struct kt_match *m;

	*out = NULL;
	if (t->p != p)
		return kt_error_set(err, KT_ERR_INVALID,
				    "match: the table was built for another "
				    "profile");
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "match: out of memory");
	m->p = p;
	m->t = t;
	m->threads = threads == 0 ? ktm_default_threads()
				  : (threads > 64 ? 64 : threads);
	kt_match_model_init(p, &m->model);
	*out = m;
	return KT_OK;
}

void kt_match_free(struct kt_match *m)
{
	if (m == NULL)
		return;
	free(m->pairs);
	for (unsigned f = 0; f < KT_MATCH_MAX_FIELDS; f++) {
		free(m->tok_off[f]);
		free(m->tok[f]);
		free(m->tf[f]);
	}
	free(m->patterns);
	free(m->pat);
	free(m->pat_count);
	free(m->pat_weight);
	free(m->pat_slots);
	free(m->edges);
	free(m->pair_decision);
	free(m->cluster);
	free(m->cuts);
	free(m);
}

void kt_match_set_truth(struct kt_match *m, const uint32_t *truth)
{
	m->truth = truth;
}

size_t kt_match_npasses(const struct kt_match *m)
{
	return m->p->npasses;
}

const struct kt_match_pass_stats *kt_match_pass(const struct kt_match *m,
						unsigned i)
{
	return i < m->p->npasses ? &m->stats[i] : NULL;
}

size_t kt_match_npairs(const struct kt_match *m)
{
	return m->npairs;
}

void kt_match_pair(const struct kt_match *m, size_t i, uint32_t *a, uint32_t *b,
		   unsigned *passes, uint64_t *pattern)
{
	*a = ktm_pair_a(m->pairs[i]);
	*b = ktm_pair_b(m->pairs[i]);
	*passes = ktm_pair_mask(m->pairs[i]);
	*pattern = m->patterns != NULL ? m->patterns[i] : 0;
}

long kt_match_find_pair(const struct kt_match *m, uint32_t a, uint32_t b)
{
	uint64_t key;
	size_t lo = 0, hi = m->npairs;

	if (a == b || a > KT_MATCH_MAX_RECORDS || b > KT_MATCH_MAX_RECORDS)
		return -1;
	key = (a < b ? ktm_pair(a, b, 0) : ktm_pair(b, a, 0)) >> 8;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k = m->pairs[mid] >> 8;

		if (k == key)
			return (long)mid;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const uint32_t *kt_match_clusters(const struct kt_match *m, uint32_t *n)
{
	*n = m->nclusters;
	return m->clustered ? m->cluster : NULL;
}

size_t kt_match_ncuts(const struct kt_match *m)
{
	return m->ncuts;
}

const struct kt_match_cut *kt_match_cut_at(const struct kt_match *m, size_t i)
{
	return i < m->ncuts ? &m->cuts[i] : NULL;
}

static const char *decision_name(int d)
{
	static const char *const names[] = {"non-match", "review", "merge",
					    "cut"};

	return d >= 0 && d <= 3 ? names[d] : "?";
}

/* Match weight (log2 odds) to probability. */
static double probability(double weight)
{
	return 1.0 / (1.0 + exp2(-weight));
}

/* ---- explain ------------------------------------------------------ */

int kt_match_explain(const struct kt_match *m, uint32_t a, uint32_t b,
		     struct kt_match_explanation *out, struct kt_error *err)
{
	uint64_t pattern = 0;
	long idx;

	memset(out, 0, sizeof(*out));
	if (a >= m->t->n || b >= m->t->n || a == b)
		return kt_error_set(err, KT_ERR_INVALID,
				    "explain: two different records needed");
	if (!m->estimated)
		return kt_error_set(err, KT_ERR_INVALID,
				    "explain: no model (estimate or load one)");
	out->a = a;
	out->b = b;
	out->prior = kt_match_model_prior(&m->model);
	idx = kt_match_find_pair(m, a, b);
	out->candidate = idx >= 0;
	out->passes = idx >= 0 ? ktm_pair_mask(m->pairs[idx]) : 0;
	for (unsigned f = 0; f < m->p->nfields; f++) {
		struct kt_match_explain_field *ef = &out->fields[f];
		int grouped = m->model.group[f] >= 0;

		ef->level = ktm_compare_field(m, f, a, b, &ef->similarity);
		pattern |= (uint64_t)ef->level << (4 * f);
		ef->m = ef->level && !grouped ? m->model.m[f][ef->level] : NAN;
		ef->u = ef->level && !grouped ? m->model.u[f][ef->level] : NAN;
		ef->tf = ktm_tf_adjust(m, f, a, ef->level);
		ef->weight =
		    kt_match_model_weight(&m->model, f, ef->level) + ef->tf;
		out->weight += ef->weight;
	}
	for (unsigned g = 0; g < m->model.ngroups; g++) {
		struct kt_match_explain_group *eg = &out->groups[g];

		eg->combo = kt_match_model_group_combo(&m->model, g, pattern);
		eg->m = eg->combo ? m->model.gm[g][eg->combo] : NAN;
		eg->u = eg->combo ? m->model.gu[g][eg->combo] : NAN;
		eg->weight =
		    kt_match_model_group_weight(&m->model, g, eg->combo);
		out->weight += eg->weight;
	}
	out->weight += out->prior;
	out->probability = probability(out->weight);
	out->conflict_field = ktm_strong_conflict(m->t, a, b);
	if (m->clustered && idx >= 0 && m->pair_decision != NULL)
		out->decision = m->pair_decision[idx];
	else if (out->weight >= m->p->auto_merge)
		out->decision =
		    out->conflict_field >= 0 ? KT_MATCH_CUT : KT_MATCH_MERGE;
	else if (out->weight >= m->p->review)
		out->decision = KT_MATCH_REVIEW;
	else
		out->decision = KT_MATCH_NONMATCH;
	out->same_cluster = m->clustered ? m->cluster[a] == m->cluster[b] : -1;
	return KT_OK;
}

/* Up to max code points of s, with "..." when cut. */
static void clip(char *out, size_t cap, const char *s, unsigned max)
{
	size_t i = 0, k = 0;
	unsigned cps = 0;

	while (s[i] != '\0' && cps < max && k + 8 < cap) {
		do
			out[k++] = s[i++];
		while (((unsigned char)s[i] & 0xc0) == 0x80);
		cps++;
	}
	if (s[i] != '\0' && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

static void passes_string(const struct kt_match *m, unsigned mask, char *out,
			  size_t cap)
{
	size_t k = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < m->p->npasses; i++) {
		int n;

		if (!(mask & (1u << i)))
			continue;
		n = snprintf(out + k, cap - k, "%s%s", k ? "+" : "",
			     m->p->passes[i].name);
		if (n < 0 || (size_t)n >= cap - k)
			break;
		k += (size_t)n;
	}
}

void kt_match_explain_print(const struct kt_match *m,
			    const struct kt_match_explanation *ex, FILE *out)
{
	const struct kt_match_table *t = m->t;
	char passes[512];

	fprintf(out, "explain %s ~ %s\n", kt_match_table_id(t, ex->a),
		kt_match_table_id(t, ex->b));
	passes_string(m, ex->passes, passes, sizeof(passes));
	if (ex->candidate)
		fprintf(out, "candidate pair: yes (passes: %s)\n", passes);
	else
		fprintf(out, "candidate pair: no (no blocking pass put "
			     "them together)\n");
	fprintf(out, "%-14s %-22s %-26s %-26s %9s %9s %8s\n", "field", "level",
		"a", "b", "m", "u", "weight");
	{
		char lam[32];

		snprintf(lam, sizeof(lam), "lambda %.5f", m->model.lambda);
		fprintf(out, "%-14s %-22s %-26s %-26s %9s %9s %+8.2f\n",
			"(prior)", lam, "", "", "", "", ex->prior);
	}
	for (unsigned f = 0; f < m->p->nfields; f++) {
		const struct kt_match_explain_field *ef = &ex->fields[f];
		char level[64], va[128], vb[128];

		if (isnan(ef->similarity) ||
		    m->p->fields[f].cmp == KTM_CMP_EXACT)
			snprintf(level, sizeof(level), "%s",
				 m->p->fields[f].level_names[ef->level]);
		else
			snprintf(level, sizeof(level), "%s (%.3g)",
				 m->p->fields[f].level_names[ef->level],
				 ef->similarity);
		if (ef->tf != 0) {
			size_t n = strlen(level);

			snprintf(level + n, sizeof(level) - n, " tf%+.2f",
				 ef->tf);
		}
		clip(va, sizeof(va), kt_match_table_value(t, ex->a, f), 24);
		clip(vb, sizeof(vb), kt_match_table_value(t, ex->b, f), 24);
		if (m->p->fields[f].cmp == KTM_CMP_IDENTIFIER) {
			if (va[0] != '\0' && !ktm_valid(t, ex->a, f))
				strcat(va, " (!)");
			if (vb[0] != '\0' && !ktm_valid(t, ex->b, f))
				strcat(vb, " (!)");
		}
		if (m->p->fields[f].group >= 0)
			fprintf(out, "%-14s %-22s %-26s %-26s %19s %8s\n",
				m->p->fields[f].name, level, va, vb,
				"(in group below)", "");
		else if (ef->level == 0)
			fprintf(out, "%-14s %-22s %-26s %-26s %9s %9s %+8.2f\n",
				m->p->fields[f].name, level, va, vb, "-", "-",
				ef->weight);
		else
			fprintf(out,
				"%-14s %-22s %-26s %-26s %9.5f %9.5f %+8.2f\n",
				m->p->fields[f].name, level, va, vb, ef->m,
				ef->u, ef->weight);
	}
	for (unsigned g = 0; g < m->p->ngroups; g++) {
		const struct kt_match_explain_group *eg = &ex->groups[g];
		char name[48];

		snprintf(name, sizeof(name), "[%s]", m->p->group_names[g]);
		if (eg->combo == 0)
			fprintf(out, "%-14s %-22s %-26s %-26s %9s %9s %+8.2f\n",
				name, "all missing", "", "", "-", "-",
				eg->weight);
		else
			fprintf(out,
				"%-14s %-22s %-26s %-26s %9.5f %9.5f %+8.2f\n",
				name, "combination above", "", "", eg->m, eg->u,
				eg->weight);
	}
	fprintf(out, "%-14s %-22s %-26s %-26s %9s %9s %+8.2f\n", "total", "",
		"", "", "", "", ex->weight);
	fprintf(out,
		"decision: %s (auto-merge >= %g, review >= %g); match "
		"probability %.6f\n",
		decision_name(ex->decision), m->p->auto_merge, m->p->review,
		ex->probability);
	if (ex->conflict_field >= 0)
		fprintf(out,
			"cannot-link: the records hold different valid '%s' "
			"values\n",
			m->p->fields[ex->conflict_field].name);
	if (ex->same_cluster >= 0)
		fprintf(out, "same cluster: %s\n",
			ex->same_cluster ? "yes" : "no");
	fputs("(!) marks a value that failed validation; it never counts as "
	      "evidence.\n",
	      out);
}

static json_t *num_or_null(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

json_t *kt_match_explain_json(const struct kt_match *m,
			      const struct kt_match_explanation *ex)
{
	const struct kt_match_table *t = m->t;
	json_t *fields = json_array(), *passes = json_array();
	json_t *groups = json_array();

	for (unsigned i = 0; i < m->p->npasses; i++)
		if (ex->passes & (1u << i))
			json_array_append_new(
			    passes, json_string(m->p->passes[i].name));
	for (unsigned f = 0; f < m->p->nfields; f++) {
		const struct kt_match_explain_field *ef = &ex->fields[f];

		json_array_append_new(
		    fields,
		    json_pack("{s:s, s:i, s:s, s:o, s:s, s:s, s:b, s:b, s:o, "
			      "s:o, s:f}",
			      "name", m->p->fields[f].name, "level",
			      (int)ef->level, "level_name",
			      m->p->fields[f].level_names[ef->level],
			      "similarity", num_or_null(ef->similarity), "a",
			      kt_match_table_value(t, ex->a, f), "b",
			      kt_match_table_value(t, ex->b, f), "a_valid",
			      ktm_valid(t, ex->a, f), "b_valid",
			      ktm_valid(t, ex->b, f), "m", num_or_null(ef->m),
			      "u", num_or_null(ef->u), "weight", ef->weight));
		if (m->p->fields[f].tf)
			json_object_set_new(
			    json_array_get(fields, json_array_size(fields) - 1),
			    "tf", json_real(ef->tf));
	}
	for (unsigned g = 0; g < m->p->ngroups; g++) {
		const struct kt_match_explain_group *eg = &ex->groups[g];
		json_t *members = json_array();

		for (unsigned f = 0; f < m->p->nfields; f++)
			if (m->p->fields[f].group == (int)g)
				json_array_append_new(
				    members, json_string(m->p->fields[f].name));
		json_array_append_new(
		    groups,
		    json_pack("{s:s, s:o, s:i, s:o, s:o, s:f}", "name",
			      m->p->group_names[g], "fields", members,
			      "combination", (int)eg->combo, "m",
			      num_or_null(eg->m), "u", num_or_null(eg->u),
			      "weight", eg->weight));
	}
	return json_pack(
	    "{s:s, s:s, s:b, s:o, s:o, s:o, s:f, s:f, s:f, s:s, s:o, s:o}", "a",
	    kt_match_table_id(t, ex->a), "b", kt_match_table_id(t, ex->b),
	    "candidate", ex->candidate, "passes", passes, "fields", fields,
	    "groups", groups, "weight", ex->weight, "prior", ex->prior,
	    "probability", ex->probability, "decision",
	    decision_name(ex->decision), "conflict",
	    ex->conflict_field >= 0
		? json_string(m->p->fields[ex->conflict_field].name)
		: json_null(),
	    "same_cluster",
	    ex->same_cluster < 0 ? json_null()
				 : json_boolean(ex->same_cluster));
}

/* ---- CSV output ---------------------------------------------------- */

static void cut_note(const struct kt_match *m, const struct kt_match_cut *c,
		     char *out, size_t cap)
{
	const struct kt_match_table *t = m->t;

	if (c->field == KTM_REVIEW_FIELD) {
		snprintf(out, cap,
			 "cannot-link review: %s and %s were rejected",
			 kt_match_table_id(t, c->holder_a),
			 kt_match_table_id(t, c->holder_b));
		return;
	}
	snprintf(out, cap, "cannot-link %s: %s (%s) vs %s (%s)",
		 m->p->fields[c->field].name,
		 kt_match_table_value(t, c->holder_a, c->field),
		 kt_match_table_id(t, c->holder_a),
		 kt_match_table_value(t, c->holder_b, c->field),
		 kt_match_table_id(t, c->holder_b));
}

static void pair_row(const struct kt_match *m, FILE *out, uint32_t a,
		     uint32_t b, unsigned mask, double w, int decision,
		     const char *note)
{
	char passes[512];

	kt_csv_put(out, kt_match_table_id(m->t, a));
	putc(',', out);
	kt_csv_put(out, kt_match_table_id(m->t, b));
	passes_string(m, mask, passes, sizeof(passes));
	fprintf(out, ",%.4f,%.6f,%s,%s,", w, probability(w),
		decision_name(decision), passes);
	kt_csv_put(out, note);
	putc('\n', out);
}

int kt_match_write_pairs(const struct kt_match *m, FILE *out, int all)
{
	char note[3 * KT_MATCH_VALUE_MAX];
	size_t k = 0;

	if (!m->clustered)
		return KT_ERR_INVALID;
	fputs("id_a,id_b,weight,probability,decision,passes,note\n", out);
	if (!all) {
		/* Strongest first: the order the clustering took them. */
		for (size_t i = 0; i < m->nedges; i++) {
			const struct ktm_edge *e = &m->edges[i];

			note[0] = '\0';
			if (e->decision == KT_MATCH_CUT)
				cut_note(m, &m->cuts[k++], note, sizeof(note));
			else if (e->decision == KT_MATCH_REVIEW &&
				 m->cluster[e->a] == m->cluster[e->b])
				snprintf(note, sizeof(note),
					 "already in one cluster");
			if (e->forced && note[0] == '\0')
				snprintf(note, sizeof(note),
					 "accepted in review");
			pair_row(m, out, e->a, e->b,
				 e->pair == SIZE_MAX
				     ? 0
				     : ktm_pair_mask(m->pairs[e->pair]),
				 e->weight, e->decision, note);
		}
		return ferror(out) ? KT_ERR_IO : KT_OK;
	}
	for (size_t i = 0; i < m->npairs; i++) {
		uint32_t a = ktm_pair_a(m->pairs[i]),
			 b = ktm_pair_b(m->pairs[i]);
		int d = m->pair_decision[i];

		note[0] = '\0';
		if (d == KT_MATCH_CUT)
			for (size_t c = 0; c < m->ncuts; c++)
				if (m->cuts[c].a == a && m->cuts[c].b == b)
					cut_note(m, &m->cuts[c], note,
						 sizeof(note));
		pair_row(m, out, a, b, ktm_pair_mask(m->pairs[i]),
			 ktm_pair_weight(m, i), d, note);
	}
	return ferror(out) ? KT_ERR_IO : KT_OK;
}

int kt_match_write_clusters(const struct kt_match *m, FILE *out)
{
	uint32_t *first;

	if (!m->clustered)
		return KT_ERR_INVALID;
	first = malloc(((size_t)m->nclusters + 1) * sizeof(*first));
	if (first == NULL)
		return KT_ERR_NOMEM;
	for (uint32_t c = 0; c < m->nclusters; c++)
		first[c] = UINT32_MAX;
	for (uint32_t r = 0; r < m->t->n; r++)
		if (first[m->cluster[r]] == UINT32_MAX)
			first[m->cluster[r]] = r;
	fputs("id,cluster\n", out);
	for (uint32_t r = 0; r < m->t->n; r++) {
		kt_csv_put(out, kt_match_table_id(m->t, r));
		putc(',', out);
		kt_csv_put(out, kt_match_table_id(m->t, first[m->cluster[r]]));
		putc('\n', out);
	}
	free(first);
	return ferror(out) ? KT_ERR_IO : KT_OK;
}

/* ---- summary -------------------------------------------------------- */

static json_t *ji(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *blocking_json(const struct kt_match *m)
{
	json_t *passes = json_array(), *b;
	uint64_t found[KT_MATCH_MAX_PASSES] = {0}, found_all = 0,
		 true_pairs = 0;

	if (m->truth != NULL) {
		uint32_t *tmp = malloc(((size_t)m->t->n + 1) * sizeof(*tmp));
		struct kt_match_eval ev;

		/* True pairs overall: the truth against itself. */
		if (tmp != NULL) {
			memcpy(tmp, m->truth, (size_t)m->t->n * sizeof(*tmp));
			if (kt_match_eval_labels(tmp, m->truth, m->t->n, &ev) ==
			    KT_OK)
				true_pairs = ev.true_pairs;
			free(tmp);
		}
		for (size_t i = 0; i < m->npairs; i++) {
			uint32_t a = ktm_pair_a(m->pairs[i]),
				 b2 = ktm_pair_b(m->pairs[i]);

			if (m->truth[a] == KT_MATCH_NONE ||
			    m->truth[a] != m->truth[b2])
				continue;
			found_all++;
			for (unsigned p = 0; p < m->p->npasses; p++)
				found[p] += (m->pairs[i] >> p) & 1u;
		}
	}
	for (unsigned p = 0; p < m->p->npasses; p++) {
		const struct kt_match_pass_stats *s = &m->stats[p];
		static const char *const methods[] = {
		    "exact", "sorted_neighbourhood", "minhash_lsh"};
		json_t *o = json_pack(
		    "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
		    m->p->passes[p].name, "method",
		    methods[m->p->passes[p].method], "keys", ji(s->keys),
		    "blocks", ji(s->blocks), "oversize_blocks",
		    ji(s->oversize_blocks), "oversize_records",
		    ji(s->oversize_records), "produced", ji(s->produced), "new",
		    ji(s->new_pairs));

		if (m->truth != NULL) {
			json_object_set_new(o, "true_pairs", ji(found[p]));
			json_object_set_new(
			    o, "completeness",
			    json_real(true_pairs ? (double)found[p] /
						       (double)true_pairs
						 : 1.0));
		}
		json_array_append_new(passes, o);
	}
	b = json_pack("{s:o, s:o}", "passes", passes, "candidate_pairs",
		      ji(m->npairs));
	if (m->truth != NULL) {
		json_object_set_new(b, "true_pairs", ji(true_pairs));
		json_object_set_new(b, "true_pairs_found", ji(found_all));
		json_object_set_new(
		    b, "completeness",
		    json_real(true_pairs
				  ? (double)found_all / (double)true_pairs
				  : 1.0));
	}
	return b;
}

json_t *kt_match_summary_json(const struct kt_match *m)
{
	json_t *s =
	    json_pack("{s:s, s:o, s:i}", "profile", m->p->name, "records",
		      ji(m->t->n), "threads", (int)m->threads);
	json_t *secs = json_pack("{s:f, s:f, s:f, s:f}", "block", m->secs_block,
				 "compare", m->secs_compare, "estimate",
				 m->secs_estimate, "cluster", m->secs_cluster);

	if (m->blocked)
		json_object_set_new(s, "blocking", blocking_json(m));
	if (m->compared) {
		json_t *tf = json_object();

		json_object_set_new(s, "patterns", ji(m->npat));
		/* per tf_adjust field: the record-weighted mean count */
		for (unsigned f = 0; f < m->p->nfields; f++)
			if (m->p->fields[f].tf)
				json_object_set_new(tf, m->p->fields[f].name,
						    json_real(m->tf_mean[f]));
		json_object_set_new(s, "tf_mean_count", tf);
	}
	if (m->estimated) {
		json_t *em = json_pack(
		    "{s:s, s:i, s:b, s:b, s:f, s:f}", "source",
		    m->model_given ? "given" : "em", "iterations",
		    (int)m->em_iterations, "converged", m->em_converged,
		    "seeded_from_labels", m->seeded, "lambda", m->model.lambda,
		    "prior_weight", kt_match_model_prior(&m->model));

		json_object_set_new(em, "model",
				    kt_match_model_to_json(m->p, &m->model));
		json_object_set_new(s, "em", em);
	}
	json_object_set_new(s, "thresholds",
			    json_pack("{s:f, s:f}", "auto_merge",
				      m->p->auto_merge, "review",
				      m->p->review));
	if (m->clustered) {
		uint32_t *size =
		    calloc((size_t)m->nclusters + 1, sizeof(*size));
		uint64_t multi = 0;

		if (size != NULL) {
			for (uint32_t r = 0; r < m->t->n; r++)
				size[m->cluster[r]]++;
			for (uint32_t c = 0; c < m->nclusters; c++)
				multi += size[c] > 1;
			free(size);
		}
		json_object_set_new(
		    s, "decisions",
		    json_pack("{s:o, s:o, s:o, s:o}", "merge",
			      ji(m->n_decision[KT_MATCH_MERGE]), "cut",
			      ji(m->n_decision[KT_MATCH_CUT]), "review",
			      ji(m->n_decision[KT_MATCH_REVIEW]), "non_match",
			      ji(m->n_decision[KT_MATCH_NONMATCH])));
		json_object_set_new(s, "review", ktm_review_summary(m));
		json_object_set_new(
		    s, "clusters",
		    json_pack("{s:o, s:o, s:o, s:o, s:o}", "count",
			      ji(m->nclusters), "multi_record", ji(multi),
			      "largest", ji(m->largest_cluster), "cut_edges",
			      ji(m->ncuts), "conflicting",
			      ji(kt_match_count_conflicts(m->t, m->cluster))));
		if (m->truth != NULL) {
			struct kt_match_eval ev;

			if (kt_match_eval_labels(m->cluster, m->truth, m->t->n,
						 &ev) == KT_OK)
				json_object_set_new(s, "eval",
						    kt_match_eval_json(&ev));
		}
	}
	json_object_set_new(s, "seconds", secs);
	return s;
}

static json_int_t geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static double getf(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* A group's most likely combinations among matches, strongest first. */
static void print_groups(const json_t *groups, FILE *out)
{
	size_t g;
	json_t *grp;

	json_array_foreach(groups, g, grp)
	{
		const json_t *jm = json_object_get(grp, "m");
		size_t n = json_array_size(jm), shown = 0;
		uint8_t *done = calloc(n + 1, 1);

		if (done == NULL)
			return;
		fprintf(out, "  group %s (",
			json_string_value(json_object_get(grp, "name")));
		for (size_t f = 0;
		     f < json_array_size(json_object_get(grp, "fields")); f++)
			fprintf(out, "%s%s", f ? " " : "",
				json_string_value(json_array_get(
				    json_object_get(grp, "fields"), f)));
		fprintf(out,
			"), %zu combinations; the likeliest among "
			"matches:\n",
			n);
		while (shown < 8 && shown < n) {
			size_t best = n, l;
			json_t *name;
			char levels[256];
			size_t k = 0;

			for (size_t i = 0; i < n; i++)
				if (!done[i] &&
				    (best == n ||
				     json_number_value(json_array_get(jm, i)) >
					 json_number_value(
					     json_array_get(jm, best))))
					best = i;
			done[best] = 1;
			levels[0] = '\0';
			json_array_foreach(
			    json_array_get(json_object_get(grp, "combos"),
					   best),
			    l, name)
			{
				int w = snprintf(levels + k, sizeof(levels) - k,
						 "%s%s", l ? " " : "",
						 json_string_value(name));

				if (w < 0 || (size_t)w >= sizeof(levels) - k)
					break;
				k += (size_t)w;
			}
			fprintf(out, "    %-35s %10.6f %10.6f %+8.2f\n", levels,
				json_number_value(json_array_get(jm, best)),
				json_number_value(json_array_get(
				    json_object_get(grp, "u"), best)),
				json_number_value(json_array_get(
				    json_object_get(grp, "weights"), best)));
			shown++;
		}
		free(done);
	}
}

void kt_match_summary_print(const json_t *s, FILE *out)
{
	const json_t *b = json_object_get(s, "blocking"), *v, *em, *c, *ev,
		     *secs;
	size_t i;

	fprintf(out, "profile %s, %lld records, %d threads\n",
		json_string_value(json_object_get(s, "profile")),
		(long long)geti(s, "records"), (int)geti(s, "threads"));
	if (b != NULL) {
		int truth = json_object_get(b, "completeness") != NULL;

		fprintf(out, "blocking:\n  %-22s %12s %12s %10s %9s %12s%s\n",
			"pass", "produced", "new", "blocks", "oversize",
			"(records)", truth ? "  completeness" : "");
		json_array_foreach(json_object_get(b, "passes"), i, v)
		{
			fprintf(out,
				"  %-22s %12lld %12lld %10lld %9lld %12lld",
				json_string_value(json_object_get(v, "name")),
				(long long)geti(v, "produced"),
				(long long)geti(v, "new"),
				(long long)geti(v, "blocks"),
				(long long)geti(v, "oversize_blocks"),
				(long long)geti(v, "oversize_records"));
			if (truth)
				fprintf(out, "  %12.4f",
					getf(v, "completeness"));
			putc('\n', out);
		}
		fprintf(out, "  %-22s %12lld", "candidate pairs",
			(long long)geti(b, "candidate_pairs"));
		if (truth)
			fprintf(out,
				"  (true pairs %lld, found %lld, completeness "
				"%.4f)",
				(long long)geti(b, "true_pairs"),
				(long long)geti(b, "true_pairs_found"),
				getf(b, "completeness"));
		putc('\n', out);
	}
	if (json_object_get(s, "patterns") != NULL)
		fprintf(out, "comparison patterns: %lld\n",
			(long long)geti(s, "patterns"));
	em = json_object_get(s, "em");
	if (em != NULL) {
		const json_t *model = json_object_get(em, "model");

		fprintf(out,
			"model (%s): %lld iterations%s, lambda %.6f (prior "
			"weight %+.2f)%s\n",
			json_string_value(json_object_get(em, "source")),
			(long long)geti(em, "iterations"),
			json_is_true(json_object_get(em, "converged"))
			    ? ", converged"
			    : "",
			getf(em, "lambda"), getf(em, "prior_weight"),
			json_is_true(json_object_get(em, "seeded_from_labels"))
			    ? ", seeded from labels"
			    : "");
		fprintf(out, "  %-14s %-20s %10s %10s %8s\n", "field", "level",
			"m", "u", "weight");
		json_array_foreach(json_object_get(model, "fields"), i, v)
		{
			size_t l;
			json_t *name;

			json_array_foreach(json_object_get(v, "levels"), l,
					   name)
			{
				fprintf(out,
					"  %-14s %-20s %10.6f %10.6f %+8.2f\n",
					l == 0 ? json_string_value(
						     json_object_get(v, "name"))
					       : "",
					json_string_value(name),
					json_number_value(json_array_get(
					    json_object_get(v, "m"), l)),
					json_number_value(json_array_get(
					    json_object_get(v, "u"), l)),
					json_number_value(json_array_get(
					    json_object_get(v, "weights"), l)));
			}
		}
	}
	if (em != NULL)
		print_groups(
		    json_object_get(json_object_get(em, "model"), "groups"),
		    out);
	v = json_object_get(s, "thresholds");
	fprintf(out, "thresholds: auto-merge >= %g, review >= %g\n",
		getf(v, "auto_merge"), getf(v, "review"));
	v = json_object_get(s, "decisions");
	if (v != NULL)
		fprintf(out,
			"decisions: merge %lld, cut %lld, review %lld, "
			"non-match %lld\n",
			(long long)geti(v, "merge"), (long long)geti(v, "cut"),
			(long long)geti(v, "review"),
			(long long)geti(v, "non_match"));
	v = json_object_get(s, "review");
	if (v != NULL) {
		fprintf(out, "review queue: %lld pairs to decide",
			(long long)geti(v, "queue"));
		if (geti(v, "accepted") + geti(v, "rejected") > 0)
			fprintf(out,
				"; decisions read: %lld accepted (%lld joined, "
				"%lld refused by cannot-link), %lld rejected",
				(long long)geti(v, "accepted"),
				(long long)geti(v, "accepted_joined"),
				(long long)geti(v, "accepted_refused"),
				(long long)geti(v, "rejected"));
		fputc('\n', out);
	}
	c = json_object_get(s, "clusters");
	if (c != NULL)
		fprintf(out,
			"clusters: %lld (%lld with more than one record, "
			"largest %lld), cut edges %lld, clusters with "
			"conflicting strong identifiers %lld\n",
			(long long)geti(c, "count"),
			(long long)geti(c, "multi_record"),
			(long long)geti(c, "largest"),
			(long long)geti(c, "cut_edges"),
			(long long)geti(c, "conflicting"));
	ev = json_object_get(s, "eval");
	if (ev != NULL)
		fprintf(out,
			"eval: precision %.4f, recall %.4f, F1 %.4f, false "
			"merges %lld, split entities %lld\n",
			getf(ev, "precision"), getf(ev, "recall"),
			getf(ev, "f1"), (long long)geti(ev, "false_merges"),
			(long long)geti(ev, "split_entities"));
	secs = json_object_get(s, "seconds");
	if (secs != NULL) {
		const char *key;
		json_t *x;

		fputs("seconds:", out);
		json_object_foreach((json_t *)secs, key, x)
		    fprintf(out, " %s %.2f", key, json_number_value(x));
		putc('\n', out);
	}
}
