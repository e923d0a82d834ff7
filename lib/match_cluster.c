#include <stdlib.h>
#include <string.h>

#include "kontor/util.h"
#include "match_int.h"

/*
 * Clustering with cannot-link constraints.
 *
 * Union-find over records. Each component keeps the list of its valid
 * strong identifier values, one per (field, scope): a VAT id has one scope
 * (the whole value), a register entry "court|type|number" with
 * scope_parts 2 has the scope "court|type". Two components conflict when
 * they hold different values for the same (field, scope). Edges are taken
 * strongest first; an edge that would join conflicting components is
 * refused ("cut") and reported. Because constraints travel with the
 * component, no chain of edges can ever put two conflicting records into
 * one cluster, and because edges come strongest first, what is cut is the
 * weakest link that would have joined them.
 *
 * The lists stay short (one entry per distinct strong field and scope in
 * the component), so the pairwise conflict check is cheap.
 */

struct node {
	uint32_t next; /* UINT32_MAX: end */
	uint32_t holder;
	uint32_t value;
	uint32_t scope;
	unsigned field;
};

struct uf {
	uint32_t *parent, *size, *head, *tail;
	struct node *nodes;
	uint32_t nnodes;
};

static uint32_t uf_find(struct uf *u, uint32_t x)
{
	while (u->parent[x] != x) {
		u->parent[x] = u->parent[u->parent[x]]; /* path halving */
		x = u->parent[x];
	}
	return x;
}

static void uf_free(struct uf *u)
{
	free(u->parent);
	free(u->size);
	free(u->head);
	free(u->tail);
	free(u->nodes);
}

static void uf_push(struct uf *u, uint32_t r, unsigned field, uint32_t scope,
		    uint32_t value)
{
	struct node *nd = &u->nodes[u->nnodes];

	nd->next = UINT32_MAX;
	nd->holder = r;
	nd->value = value;
	nd->field = field;
	nd->scope = scope;
	if (u->head[r] == UINT32_MAX)
		u->head[r] = u->nnodes;
	else
		u->nodes[u->tail[r]].next = u->nnodes;
	u->tail[r] = u->nnodes++;
}

/*
 * A pair rejected in review is a constraint like two different VAT ids:
 * both records get a node of the pseudo field KTM_REVIEW_FIELD in a scope
 * of their own (the pair's number) with different values, so the
 * component check keeps them apart through any chain of edges.
 */
static int uf_init(struct uf *u, const struct kt_match_table *t,
		   const uint32_t *cannot, size_t ncannot)
{
	size_t nstrong = 0;

	memset(u, 0, sizeof(*u));
	for (unsigned f = 0; f < t->nf; f++)
		nstrong += t->p->fields[f].strong;
	u->parent = malloc(((size_t)t->n + 1) * sizeof(uint32_t));
	u->size = malloc(((size_t)t->n + 1) * sizeof(uint32_t));
	u->head = malloc(((size_t)t->n + 1) * sizeof(uint32_t));
	u->tail = malloc(((size_t)t->n + 1) * sizeof(uint32_t));
	u->nodes = malloc(((size_t)t->n * nstrong + 2 * ncannot + 1) *
			  sizeof(struct node));
	if (u->parent == NULL || u->size == NULL || u->head == NULL ||
	    u->tail == NULL || u->nodes == NULL) {
		uf_free(u);
		return KT_ERR_NOMEM;
	}
	for (uint32_t r = 0; r < t->n; r++) {
		u->parent[r] = r;
		u->size[r] = 1;
		u->head[r] = u->tail[r] = UINT32_MAX;
		for (unsigned f = 0; f < t->nf; f++) {
			const struct ktm_field *fd = &t->p->fields[f];
			uint32_t v = ktm_cell(t, r, f);

			if (!fd->strong || !ktm_valid(t, r, f))
				continue;
			uf_push(u, r, f,
				fd->scope_parts == 0
				    ? 0
				    : ktm_scope_hash(fd,
						     ktm_pool_str(&t->vals, v),
						     ktm_pool_len(&t->vals, v)),
				v);
		}
	}
	for (size_t i = 0; i < ncannot; i++) {
		uf_push(u, cannot[2 * i], KTM_REVIEW_FIELD, (uint32_t)i, 0);
		uf_push(u, cannot[2 * i + 1], KTM_REVIEW_FIELD, (uint32_t)i, 1);
	}
	return KT_OK;
}

/* The first conflicting node pair of two roots, or 0. */
static int conflict(const struct uf *u, uint32_t ra, uint32_t rb,
		    const struct node **x, const struct node **y)
{
	for (uint32_t i = u->head[ra]; i != UINT32_MAX; i = u->nodes[i].next)
		for (uint32_t j = u->head[rb]; j != UINT32_MAX;
		     j = u->nodes[j].next) {
			const struct node *p = &u->nodes[i], *q = &u->nodes[j];

			if (p->field == q->field && p->scope == q->scope &&
			    p->value != q->value) {
				*x = p;
				*y = q;
				return 1;
			}
		}
	return 0;
}

static int has_key(const struct uf *u, uint32_t root, const struct node *n)
{
	for (uint32_t i = u->head[root]; i != UINT32_MAX; i = u->nodes[i].next)
		if (u->nodes[i].field == n->field &&
		    u->nodes[i].scope == n->scope)
			return 1;
	return 0;
}

/* Join two conflict-free roots; the big one's list absorbs the other's
 * new (field, scope) keys. */
static void uf_union(struct uf *u, uint32_t ra, uint32_t rb)
{
	uint32_t i, next;

	if (u->size[ra] < u->size[rb]) {
		uint32_t tmp = ra;

		ra = rb;
		rb = tmp;
	}
	for (i = u->head[rb]; i != UINT32_MAX; i = next) {
		next = u->nodes[i].next;
		if (has_key(u, ra, &u->nodes[i]))
			continue; /* same value already there */
		u->nodes[i].next = UINT32_MAX;
		if (u->head[ra] == UINT32_MAX)
			u->head[ra] = i;
		else
			u->nodes[u->tail[ra]].next = i;
		u->tail[ra] = i;
	}
	u->head[rb] = u->tail[rb] = UINT32_MAX;
	u->parent[rb] = ra;
	u->size[ra] += u->size[rb];
}

static int edge_cmp(const void *x, const void *y)
{
	const struct ktm_edge *a = x, *b = y;

	/* a person's decision comes before any computed weight */
	if (a->forced != b->forced)
		return a->forced ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	return (a->b > b->b) - (a->b < b->b);
}

int ktm_cluster(const struct kt_match_table *t, struct ktm_edge *edges,
		size_t nedges, double min_weight, const uint32_t *cannot,
		size_t ncannot, uint32_t *cluster_out, uint32_t *nclusters,
		struct kt_match_cut **cuts, size_t *ncuts)
{
	struct kt_match_cut *cut = NULL;
	size_t ncut = 0, capcut = 0;
	uint32_t *label = NULL, k = 0;
	struct uf u;
	int r;

	*cuts = NULL;
	*ncuts = 0;
	*nclusters = 0;
	if ((r = uf_init(&u, t, cannot, ncannot)) != KT_OK)
		return r;
	if (nedges > 1)
		qsort(edges, nedges, sizeof(*edges), edge_cmp);
	for (size_t i = 0; i < nedges; i++) {
		struct ktm_edge *e = &edges[i];
		const struct node *x, *y;
		uint32_t ra, rb;

		if (!e->forced && e->weight < min_weight) {
			e->decision = KT_MATCH_REVIEW;
			continue;
		}
		e->decision = KT_MATCH_MERGE;
		ra = uf_find(&u, e->a);
		rb = uf_find(&u, e->b);
		if (ra == rb)
			continue;
		if (!conflict(&u, ra, rb, &x, &y)) {
			uf_union(&u, ra, rb);
			continue;
		}
		e->decision = KT_MATCH_CUT;
		if (ncut == capcut) {
			size_t ncap = capcut ? capcut * 2 : 64;
			struct kt_match_cut *nc =
			    realloc(cut, ncap * sizeof(*nc));

			if (nc == NULL) {
				r = KT_ERR_NOMEM;
				goto cleanup;
			}
			cut = nc;
			capcut = ncap;
		}
		cut[ncut].a = e->a;
		cut[ncut].b = e->b;
		cut[ncut].weight = e->weight;
		cut[ncut].field = x->field;
		cut[ncut].holder_a = x->holder;
		cut[ncut].holder_b = y->holder;
		ncut++;
	}
	/* Dense cluster numbers in record order: stable across runs. */
	label = malloc(((size_t)t->n + 1) * sizeof(*label));
	if (label == NULL) {
		r = KT_ERR_NOMEM;
		goto cleanup;
	}
	for (uint32_t i = 0; i < t->n; i++)
		label[i] = UINT32_MAX;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t root = uf_find(&u, i);

		if (label[root] == UINT32_MAX)
			label[root] = k++;
		cluster_out[i] = label[root];
	}
	*nclusters = k;
	*cuts = cut;
	*ncuts = ncut;
	cut = NULL;
	r = KT_OK;
cleanup:
	free(label);
	free(cut);
	uf_free(&u);
	return r;
}

int kt_match_cluster_edges(const struct kt_match_table *t,
			   struct kt_match_edge *edges, size_t nedges,
			   double min_weight, uint32_t *cluster_out,
			   uint32_t *nclusters, struct kt_match_cut **cuts,
			   size_t *ncuts, struct kt_error *err)
{
	struct ktm_edge *e = malloc((nedges + 1) * sizeof(*e));
	int r;

	*cuts = NULL;
	*ncuts = 0;
	if (e == NULL)
		return kt_error_set(err, KT_ERR_NOMEM,
				    "cluster: out of memory");
	for (size_t i = 0; i < nedges; i++) {
		if (edges[i].a >= t->n || edges[i].b >= t->n) {
			free(e);
			return kt_error_set(err, KT_ERR_INVALID,
					    "cluster: edge %zu names a record "
					    "outside the table",
					    i);
		}
		e[i].a = edges[i].a;
		e[i].b = edges[i].b;
		e[i].weight = edges[i].weight;
		e[i].pair = SIZE_MAX;
		e[i].forced = 0;
	}
	r = ktm_cluster(t, e, nedges, min_weight, NULL, 0, cluster_out,
			nclusters, cuts, ncuts);
	for (size_t i = 0; i < nedges; i++) {
		edges[i].a = e[i].a;
		edges[i].b = e[i].b;
		edges[i].weight = e[i].weight;
	}
	free(e);
	if (r != KT_OK)
		return kt_error_set(err, r, "cluster: %s", kt_strerror(r));
	return KT_OK;
}

static int push_edge(struct kt_match *m, size_t *cap, uint32_t a, uint32_t b,
		     double w, size_t pair, int forced)
{
	struct ktm_edge *e, *ne;

	ne = kt_grow(m->edges, cap, m->nedges, sizeof(*ne), 4096);
	if (ne == NULL)
		return KT_ERR_NOMEM;
	m->edges = ne;
	e = &m->edges[m->nedges++];
	e->a = a < b ? a : b;
	e->b = a < b ? b : a;
	e->weight = w;
	e->pair = pair;
	e->forced = forced;
	e->decision = KT_MATCH_NONMATCH;
	return KT_OK;
}

int kt_match_cluster(struct kt_match *m, struct kt_error *err)
{
	double t0 = ktm_now();
	size_t cap = 0;
	uint8_t *pair_mark = NULL;
	int r;

	if (!m->compared || !m->estimated || m->clustered)
		return kt_error_set(err, KT_ERR_INVALID,
				    "match: cluster needs compare and a model "
				    "first, once");
	m->pair_decision = calloc(m->npairs + 1, 1);
	m->cluster = malloc(((size_t)m->t->n + 1) * sizeof(*m->cluster));
	if (m->pair_decision == NULL || m->cluster == NULL)
		goto nomem;
	if (m->decisions != NULL &&
	    (pair_mark = calloc(m->npairs + 1, 1)) == NULL)
		goto nomem;
	if (m->decisions != NULL) {
		const struct kt_match_decisions *d = m->decisions;

		/* 1: accepted, 2: rejected (no edge; a constraint below) */
		for (size_t k = 0; k < d->nreject; k++) {
			long i = kt_match_find_pair(m, d->reject[2 * k],
						    d->reject[2 * k + 1]);
			if (i >= 0)
				pair_mark[i] = 2;
		}
		for (size_t k = 0; k < d->naccept; k++) {
			long i = kt_match_find_pair(m, d->accept[2 * k],
						    d->accept[2 * k + 1]);
			uint32_t a = d->accept[2 * k], b = d->accept[2 * k + 1];

			if (i >= 0) {
				pair_mark[i] = 1;
				continue;
			}
			/* a pair no blocking pass proposed: an edge of its
			 * own, weighted as explain would */
			if (push_edge(m, &cap, a, b,
				      kt_match_model_match_weight(
					  &m->model, ktm_compare_pair(m, a, b)),
				      SIZE_MAX, 1) != KT_OK)
				goto nomem;
		}
	}
	for (size_t i = 0; i < m->npairs; i++) {
		double w = ktm_pair_weight(m, i);
		int forced = pair_mark != NULL && pair_mark[i] == 1;

		if (pair_mark != NULL && pair_mark[i] == 2)
			continue;
		if (w < m->p->review && !forced)
			continue;
		if (push_edge(m, &cap, ktm_pair_a(m->pairs[i]),
			      ktm_pair_b(m->pairs[i]), w, i, forced) != KT_OK)
			goto nomem;
	}
	r = ktm_cluster(m->t, m->edges, m->nedges, m->p->auto_merge,
			m->decisions ? m->decisions->reject : NULL,
			m->decisions ? m->decisions->nreject : 0, m->cluster,
			&m->nclusters, &m->cuts, &m->ncuts);
	free(pair_mark);
	pair_mark = NULL;
	if (r != KT_OK)
		return kt_error_set(err, r, "match: cluster: %s",
				    kt_strerror(r));
	for (size_t i = 0; i < m->nedges; i++) {
		if (!m->edges[i].forced)
			continue;
		if (m->edges[i].decision == KT_MATCH_MERGE)
			m->n_accepted_joined++;
		else
			m->n_accepted_cut++;
	}
	memset(m->n_decision, 0, sizeof(m->n_decision));
	{
		size_t in_pairs = 0;

		for (size_t i = 0; i < m->nedges; i++) {
			if (m->edges[i].pair != SIZE_MAX) {
				m->pair_decision[m->edges[i].pair] =
				    (uint8_t)m->edges[i].decision;
				in_pairs++;
			}
			m->n_decision[m->edges[i].decision]++;
		}
		m->n_decision[KT_MATCH_NONMATCH] = m->npairs - in_pairs;
	}
	{
		uint32_t *size =
		    calloc((size_t)m->nclusters + 1, sizeof(*size));

		if (size == NULL)
			goto nomem;
		m->largest_cluster = 0;
		for (uint32_t i = 0; i < m->t->n; i++)
			if (++size[m->cluster[i]] > m->largest_cluster)
				m->largest_cluster = size[m->cluster[i]];
		free(size);
	}
	m->clustered = 1;
	m->secs_cluster = ktm_now() - t0;
	return KT_OK;
nomem:
	free(pair_mark);
	return kt_error_set(err, KT_ERR_NOMEM, "match: cluster: out of memory");
}

/* ---- checks and evaluation ------------------------------------------ */

struct sv {
	uint32_t cluster, field, scope, value;
};

static int sv_cmp(const void *x, const void *y)
{
	const struct sv *a = x, *b = y;

	if (a->cluster != b->cluster)
		return a->cluster < b->cluster ? -1 : 1;
	if (a->field != b->field)
		return a->field < b->field ? -1 : 1;
	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	return (a->value > b->value) - (a->value < b->value);
}

size_t kt_match_count_conflicts(const struct kt_match_table *t,
				const uint32_t *cluster)
{
	struct sv *v = NULL;
	size_t n = 0, bad = 0, nstrong = 0;
	uint32_t last_bad = UINT32_MAX;

	for (unsigned f = 0; f < t->nf; f++)
		nstrong += t->p->fields[f].strong;
	v = malloc(((size_t)t->n * nstrong + 1) * sizeof(*v));
	if (v == NULL)
		return SIZE_MAX;
	for (uint32_t r = 0; r < t->n; r++)
		for (unsigned f = 0; f < t->nf; f++) {
			const struct ktm_field *fd = &t->p->fields[f];
			uint32_t val = ktm_cell(t, r, f);

			if (!fd->strong || !ktm_valid(t, r, f))
				continue;
			v[n].cluster = cluster[r];
			v[n].field = f;
			v[n].scope = fd->scope_parts == 0
					 ? 0
					 : ktm_scope_hash(
					       fd, ktm_pool_str(&t->vals, val),
					       ktm_pool_len(&t->vals, val));
			v[n].value = val;
			n++;
		}
	qsort(v, n, sizeof(*v), sv_cmp);
	for (size_t i = 1; i < n; i++) {
		if (v[i].cluster == v[i - 1].cluster &&
		    v[i].field == v[i - 1].field &&
		    v[i].scope == v[i - 1].scope &&
		    v[i].value != v[i - 1].value && v[i].cluster != last_bad) {
			bad++;
			last_bad = v[i].cluster;
		}
	}
	free(v);
	return bad;
}

static uint64_t choose2(uint64_t n)
{
	return n * (n - 1) / 2;
}

/*
 * Sort x<<32|y and walk the runs: pairs within x-groups, pairs within
 * (x, y)-cells, and how many x-groups hold more than one y.
 */
static void runs(uint64_t *v, uint64_t *tmp, size_t n, uint64_t *groups,
		 uint64_t *group_pairs, uint64_t *cell_pairs, uint64_t *mixed)
{
	ktm_radix_u64(v, tmp, n, 0, 64);
	*groups = *group_pairs = *cell_pairs = *mixed = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i, cells = 0;

		while (j < n && v[j] >> 32 == v[i] >> 32) {
			size_t k = j;

			while (k < n && v[k] == v[j])
				k++;
			*cell_pairs += choose2(k - j);
			cells++;
			j = k;
		}
		(*groups)++;
		*group_pairs += choose2(j - i);
		*mixed += cells > 1;
		i = j;
	}
}

int kt_match_eval_labels(const uint32_t *pred, const uint32_t *truth, size_t n,
			 struct kt_match_eval *out)
{
	uint64_t *v = malloc((n + 1) * sizeof(*v));
	uint64_t *tmp = malloc((n + 1) * sizeof(*tmp));
	uint64_t cells;
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	if (v == NULL || tmp == NULL) {
		free(v);
		free(tmp);
		return KT_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (pred[i] != KT_MATCH_NONE && truth[i] != KT_MATCH_NONE)
			v[k++] = (uint64_t)pred[i] << 32 | truth[i];
	out->records = k;
	runs(v, tmp, k, &out->clusters, &out->predicted_pairs,
	     &out->true_positives, &out->false_merges);
	for (size_t i = 0; i < k; i++)
		v[i] = v[i] << 32 | v[i] >> 32;
	runs(v, tmp, k, &out->entities, &out->true_pairs, &cells,
	     &out->split_entities);
	free(v);
	free(tmp);
	out->precision = out->predicted_pairs ? (double)out->true_positives /
						    (double)out->predicted_pairs
					      : 1.0;
	out->recall = out->true_pairs ? (double)out->true_positives /
					    (double)out->true_pairs
				      : 1.0;
	out->f1 = out->precision + out->recall > 0
		      ? 2 * out->precision * out->recall /
			    (out->precision + out->recall)
		      : 0;
	return KT_OK;
}

json_t *kt_match_eval_json(const struct kt_match_eval *ev)
{
	return json_pack(
	    "{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:I}",
	    "records", (json_int_t)ev->records, "true_pairs",
	    (json_int_t)ev->true_pairs, "predicted_pairs",
	    (json_int_t)ev->predicted_pairs, "true_positives",
	    (json_int_t)ev->true_positives, "precision", ev->precision,
	    "recall", ev->recall, "f1", ev->f1, "clusters",
	    (json_int_t)ev->clusters, "entities", (json_int_t)ev->entities,
	    "false_merges", (json_int_t)ev->false_merges, "split_entities",
	    (json_int_t)ev->split_entities);
}
