/*
 * The review queue: pairs whose weight lies between the thresholds and
 * that no other edge already put into one cluster. Exported for a person
 * as CSV (a spreadsheet with an empty "decision" column to fill in) and as
 * a static HTML page (both records side by side, each field's level and
 * weight), and read back: accepted pairs join before any computed edge,
 * rejected ones become cannot-link constraints of their own, so no chain
 * of edges puts them into one cluster later.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "kontor/csv.h"
#include "kontor/html.h"

#include "match_int.h"

#define MAX_DECISIONS 10000000

static int in_queue(const struct kt_match *m, const struct ktm_edge *e)
{
	return e->decision == KT_MATCH_REVIEW &&
	       m->cluster[e->a] != m->cluster[e->b];
}

size_t kt_match_review_count(const struct kt_match *m)
{
	size_t n = 0;

	if (!m->clustered)
		return 0;
	for (size_t i = 0; i < m->nedges; i++)
		n += in_queue(m, &m->edges[i]);
	return n;
}

int kt_match_write_review_csv(const struct kt_match *m, FILE *out)
{
	const struct kt_match_profile *p = m->p;

	if (!m->clustered)
		return KT_ERR_INVALID;
	fputs("decision,id_a,id_b,weight,probability", out);
	for (unsigned f = 0; f < p->nfields; f++)
		fprintf(out, ",%s:a,%s:b,%s:level,%s:weight", p->fields[f].name,
			p->fields[f].name, p->fields[f].name,
			p->fields[f].name);
	for (unsigned g = 0; g < p->ngroups; g++)
		fprintf(out, ",[%s]:weight", p->group_names[g]);
	putc('\n', out);
	for (size_t i = 0; i < m->nedges; i++) {
		const struct ktm_edge *e = &m->edges[i];
		struct kt_match_explanation ex;
		struct kt_error err;

		if (!in_queue(m, e) ||
		    kt_match_explain(m, e->a, e->b, &ex, &err) != KT_OK)
			continue;
		putc(',', out);
		kt_csv_put(out, kt_match_table_id(m->t, e->a));
		putc(',', out);
		kt_csv_put(out, kt_match_table_id(m->t, e->b));
		fprintf(out, ",%.4f,%.6f", ex.weight, ex.probability);
		for (unsigned f = 0; f < p->nfields; f++) {
			putc(',', out);
			kt_csv_put(out, kt_match_table_value(m->t, e->a, f));
			putc(',', out);
			kt_csv_put(out, kt_match_table_value(m->t, e->b, f));
			fprintf(out, ",%s,",
				p->fields[f].level_names[ex.fields[f].level]);
			if (p->fields[f].group < 0)
				fprintf(out, "%.2f", ex.fields[f].weight);
		}
		for (unsigned g = 0; g < p->ngroups; g++)
			fprintf(out, ",%.2f", ex.groups[g].weight);
		putc('\n', out);
	}
	return ferror(out) ? KT_ERR_IO : KT_OK;
}

/* ---- HTML ----------------------------------------------------------- */

static void put(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, s, strlen(s));
}

static void text(struct evbuffer *b, const char *s)
{
	kt_html_escape(b, s);
}

static int flush(struct evbuffer *b, FILE *out)
{
	char chunk[16384];
	int n;

	while ((n = evbuffer_remove(b, chunk, sizeof(chunk))) > 0)
		if (fwrite(chunk, 1, (size_t)n, out) != (size_t)n)
			return KT_ERR_IO;
	return KT_OK;
}

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 2em}"
    "th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;"
    "vertical-align:top}"
    "td.w{text-align:right;font-variant-numeric:tabular-nums}"
    ".pos{color:#06602b}.neg{color:#a0001a}.inv{color:#a0001a}"
    "h2{font-size:1.05em;margin-bottom:0}"
    "caption{text-align:left;color:#555}";

static void weight_cell(struct evbuffer *b, double w, int show)
{
	char num[32];

	if (!show) {
		put(b, "<td class=\"w\"></td>");
		return;
	}
	snprintf(num, sizeof(num), "%+.2f", w);
	put(b, w > 0 ? "<td class=\"w pos\">"
		     : (w < 0 ? "<td class=\"w neg\">" : "<td class=\"w\">"));
	put(b, num);
	put(b, "</td>");
}

int kt_match_write_review_html(const struct kt_match *m, const char *title,
			       FILE *out)
{
	const struct kt_match_profile *p = m->p;
	struct evbuffer *b = evbuffer_new();
	char num[128];
	size_t k = 0, total = kt_match_review_count(m);
	int r = KT_OK;

	if (b == NULL)
		return KT_ERR_NOMEM;
	if (!m->clustered) {
		evbuffer_free(b);
		return KT_ERR_INVALID;
	}
	put(b, "<!DOCTYPE html>\n<html lang=\"de\"><head><meta "
	       "charset=\"utf-8\"><title>");
	text(b, title);
	put(b, "</title><style>");
	put(b, style);
	put(b, "</style></head><body><h1>");
	text(b, title);
	put(b, "</h1><p>");
	snprintf(num, sizeof(num),
		 "%zu pairs between the thresholds (review &ge; %g, "
		 "auto-merge &ge; %g).",
		 total, p->review, p->auto_merge);
	put(b, num);
	put(b, " Decide each pair in the CSV export (column "
	       "<code>decision</code>: <code>accept</code> or "
	       "<code>reject</code>) and read it back with "
	       "<code>kontor-migrate review apply</code>. Values are "
	       "shown as the matcher compared them; "
	       "<span class=\"inv\">(!)</span> marks a value that failed "
	       "validation.</p>\n");
	for (size_t i = 0; i < m->nedges && r == KT_OK; i++) {
		const struct ktm_edge *e = &m->edges[i];
		struct kt_match_explanation ex;
		struct kt_error err;

		if (!in_queue(m, e) ||
		    kt_match_explain(m, e->a, e->b, &ex, &err) != KT_OK)
			continue;
		k++;
		snprintf(num, sizeof(num), "<h2 id=\"p%zu\">%zu. ", k, k);
		put(b, num);
		text(b, kt_match_table_id(m->t, e->a));
		put(b, " ~ ");
		text(b, kt_match_table_id(m->t, e->b));
		snprintf(num, sizeof(num),
			 "</h2><table><caption>weight %+.2f, match "
			 "probability %.3f</caption>",
			 ex.weight, ex.probability);
		put(b, num);
		put(b, "<tr><th>field</th><th>");
		text(b, kt_match_table_id(m->t, e->a));
		put(b, "</th><th>");
		text(b, kt_match_table_id(m->t, e->b));
		put(b, "</th><th>level</th><th>weight</th></tr>\n");
		put(b, "<tr><td>(prior)</td><td></td><td></td><td></td>");
		weight_cell(b, ex.prior, 1);
		put(b, "</tr>\n");
		for (unsigned f = 0; f < p->nfields; f++) {
			const char *va = kt_match_table_value(m->t, e->a, f),
				   *vb = kt_match_table_value(m->t, e->b, f);

			put(b, "<tr><td>");
			text(b, p->fields[f].name);
			put(b, "</td><td>");
			text(b, va);
			if (*va && !kt_match_table_valid(m->t, e->a, f))
				put(b, " <span class=\"inv\">(!)</span>");
			put(b, "</td><td>");
			text(b, vb);
			if (*vb && !kt_match_table_valid(m->t, e->b, f))
				put(b, " <span class=\"inv\">(!)</span>");
			put(b, "</td><td>");
			text(b, p->fields[f].level_names[ex.fields[f].level]);
			if (p->fields[f].group >= 0) {
				put(b, " [");
				text(b, p->group_names[p->fields[f].group]);
				put(b, "]");
			}
			put(b, "</td>");
			weight_cell(b, ex.fields[f].weight,
				    p->fields[f].group < 0);
			put(b, "</tr>\n");
		}
		for (unsigned g = 0; g < p->ngroups; g++) {
			put(b, "<tr><td>[");
			text(b, p->group_names[g]);
			put(b, "]</td><td></td><td></td><td>combination</td>");
			weight_cell(b, ex.groups[g].weight, 1);
			put(b, "</tr>\n");
		}
		put(b, "<tr><th>total</th><td></td><td></td><td></td>");
		weight_cell(b, ex.weight, 1);
		put(b, "</tr></table>\n");
		if (evbuffer_get_length(b) > 1 << 20)
			r = flush(b, out);
	}
	put(b, "</body></html>\n");
	if (r == KT_OK)
		r = flush(b, out);
	evbuffer_free(b);
	return r == KT_OK && !ferror(out) ? KT_OK : KT_ERR_IO;
}

/* ---- decisions ------------------------------------------------------ */

void kt_match_decisions_free(struct kt_match_decisions *d)
{
	if (d == NULL)
		return;
	free(d->accept);
	free(d->reject);
	free(d);
}

size_t kt_match_decisions_accepted(const struct kt_match_decisions *d)
{
	return d ? d->naccept : 0;
}

size_t kt_match_decisions_rejected(const struct kt_match_decisions *d)
{
	return d ? d->nreject : 0;
}

/* 1 accept, 0 reject, -1 undecided, -2 unknown */
static int decision_of(const char *s)
{
	static const char *const yes[] = {"accept", "accepted", "yes",	 "y",
					  "ja",	    "j",	"merge", "same",
					  "1",	    "x",	NULL};
	static const char *const no[] = {"reject", "rejected",	 "no",
					 "n",	   "nein",	 "different",
					 "0",	   "keep apart", NULL};
	char low[32];
	size_t n = strlen(s), i;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n == 0)
		return -1;
	if (n >= sizeof(low))
		return -2;
	for (i = 0; i < n; i++)
		low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	low[n] = '\0';
	for (i = 0; yes[i] != NULL; i++)
		if (strcmp(low, yes[i]) == 0)
			return 1;
	for (i = 0; no[i] != NULL; i++)
		if (strcmp(low, no[i]) == 0)
			return 0;
	return -2;
}

struct dec {
	uint32_t a, b;
	int accept;
	uint64_t line;
};

static int dec_cmp(const void *x, const void *y)
{
	const struct dec *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	return (p->line > q->line) - (p->line < q->line);
}

int kt_match_decisions_read(const char *path, const struct kt_match_table *t,
			    struct kt_match_decisions **out,
			    struct kt_error *err)
{
	struct kt_match_decisions *d = calloc(1, sizeof(*d));
	struct kt_csv_opts o;
	struct kt_csv *c = NULL;
	struct kt_csv_row row;
	struct dec *v = NULL;
	size_t n = 0, cap = 0;
	long ia = -1, ib = -1, idec = -1;
	int r, first = 1;

	*out = NULL;
	if (d == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	kt_csv_opts_default(&o);
	if ((r = kt_csv_open(path, &o, &c, err)) != KT_OK)
		goto fail;
	while ((r = kt_csv_next(c, &row, err)) == 1) {
		uint32_t a, b;
		int dc;

		if (first) {
			first = 0;
			for (size_t i = 0; i < row.n; i++) {
				if (strcmp(row.field[i], "id_a") == 0)
					ia = (long)i;
				else if (strcmp(row.field[i], "id_b") == 0)
					ib = (long)i;
				else if (strcmp(row.field[i], "decision") == 0)
					idec = (long)i;
			}
			if (ia < 0 || ib < 0 || idec < 0) {
				r = kt_error_set(
				    err, KT_ERR_INVALID,
				    "%s:%llu: the header needs the "
				    "columns id_a, id_b and "
				    "decision (as in the review "
				    "export)",
				    path, (unsigned long long)row.line);
				goto fail;
			}
			continue;
		}
		if ((size_t)ia >= row.n || (size_t)ib >= row.n ||
		    (size_t)idec >= row.n) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%llu: %zu columns, fewer than "
					 "the header's",
					 path, (unsigned long long)row.line,
					 row.n);
			goto fail;
		}
		dc = decision_of(row.field[idec]);
		if (dc == -2) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%llu: decision '%.40s': expected "
					 "accept or reject (or empty: "
					 "undecided)",
					 path, (unsigned long long)row.line,
					 row.field[idec]);
			goto fail;
		}
		if (dc == -1)
			continue;
		for (int k = 0; k < 2; k++) {
			const char *id = row.field[k ? ib : ia];

			if (kt_match_table_find(t, id, k ? &b : &a) != KT_OK) {
				r = kt_error_set(
				    err, KT_ERR_INVALID,
				    "%s:%llu: no record '%.100s' in "
				    "the records",
				    path, (unsigned long long)row.line, id);
				goto fail;
			}
		}
		if (a == b) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%llu: a pair needs two different "
					 "records",
					 path, (unsigned long long)row.line);
			goto fail;
		}
		if (n >= MAX_DECISIONS) {
			r = kt_error_set(err, KT_ERR_LIMIT,
					 "%s: more than %d decisions", path,
					 MAX_DECISIONS);
			goto fail;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct dec *nv = realloc(v, nc * sizeof(*nv));

			if (nv == NULL) {
				r = kt_error_set(err, KT_ERR_NOMEM,
						 "out of memory");
				goto fail;
			}
			v = nv;
			cap = nc;
		}
		v[n].a = a < b ? a : b;
		v[n].b = a < b ? b : a;
		v[n].accept = dc;
		v[n].line = row.line;
		n++;
	}
	if (r < 0)
		goto fail;
	if (first) {
		r = kt_error_set(err, KT_ERR_INVALID, "%s: empty file", path);
		goto fail;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), dec_cmp);
	d->accept = malloc((n + 1) * 2 * sizeof(uint32_t));
	d->reject = malloc((n + 1) * 2 * sizeof(uint32_t));
	if (d->accept == NULL || d->reject == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && v[i].a == v[i - 1].a && v[i].b == v[i - 1].b) {
			if (v[i].accept != v[i - 1].accept) {
				r = kt_error_set(
				    err, KT_ERR_INVALID,
				    "%s:%llu: %s ~ %s was %s on line %llu",
				    path, (unsigned long long)v[i].line,
				    kt_match_table_id(t, v[i].a),
				    kt_match_table_id(t, v[i].b),
				    v[i - 1].accept ? "accepted" : "rejected",
				    (unsigned long long)v[i - 1].line);
				goto fail;
			}
			continue; /* the same decision twice */
		}
		if (v[i].accept) {
			d->accept[2 * d->naccept] = v[i].a;
			d->accept[2 * d->naccept + 1] = v[i].b;
			d->naccept++;
		} else {
			d->reject[2 * d->nreject] = v[i].a;
			d->reject[2 * d->nreject + 1] = v[i].b;
			d->nreject++;
		}
	}
	free(v);
	kt_csv_free(c);
	*out = d;
	return KT_OK;
fail:
	free(v);
	kt_csv_free(c);
	kt_match_decisions_free(d);
	return r;
}

void kt_match_set_decisions(struct kt_match *m,
			    const struct kt_match_decisions *d)
{
	m->decisions = d;
}

json_t *ktm_review_summary(const struct kt_match *m)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "queue",
			 (json_int_t)kt_match_review_count(m), "accepted",
			 (json_int_t)kt_match_decisions_accepted(m->decisions),
			 "rejected",
			 (json_int_t)kt_match_decisions_rejected(m->decisions),
			 "accepted_joined", (json_int_t)m->n_accepted_joined,
			 "accepted_refused", (json_int_t)m->n_accepted_cut);
}
