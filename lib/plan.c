/*
 * The plan file: building it from records.jsonl and clusters.csv, writing
 * it with its digest, and reading it back with every unit checked before
 * anything is written to the store.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kontor/csv.h"
#include "kontor/ident.h"
#include "kontor/land.h"
#include "kontor/norm.h"
#include "kontor/plan.h"
#include "kontor/recfile.h"
#include "kontor/strmap.h"

#define MAGIC "kontor_migrate_plan"
#define MAX_SOURCES 1000
#define MAX_PEOPLE 1000
#define VALUE_MAX 1024
#define SOURCE_ID_MAX 64

/* ---- clusters.csv: id -> label ------------------------------------- */

struct clusters {
	struct kt_strmap ids; /* id -> index */
	char **id, **label;
	uint8_t *seen;
	size_t n, cap;
};

static void clusters_free(struct clusters *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->id[i]);
		free(c->label[i]);
	}
	free(c->id);
	free(c->label);
	free(c->seen);
	kt_strmap_free(&c->ids);
}

/* Appends id -> label: 0, 1 when id is there already, KT_ERR_NOMEM. */
static int clusters_add(struct clusters *c, const char *id, const char *label)
{
	int r;

	if (kt_strmap_get(&c->ids, id, NULL))
		return 1;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 4096;
		char **ni = realloc(c->id, nc * sizeof(*ni));
		char **nl = ni ? realloc(c->label, nc * sizeof(*nl)) : NULL;
		uint8_t *ns = nl ? realloc(c->seen, nc) : NULL;

		if (ni != NULL)
			c->id = ni;
		if (nl != NULL)
			c->label = nl;
		if (ns == NULL)
			return KT_ERR_NOMEM;
		c->seen = ns;
		c->cap = nc;
	}
	c->id[c->n] = strdup(id);
	c->label[c->n] = strdup(label);
	c->seen[c->n] = 0;
	if (c->id[c->n] == NULL || c->label[c->n] == NULL) {
		free(c->id[c->n]);
		free(c->label[c->n]);
		return KT_ERR_NOMEM;
	}
	if ((r = kt_strmap_add(&c->ids, c->id[c->n], c->n, NULL)) < 0) {
		free(c->id[c->n]);
		free(c->label[c->n]);
		return r;
	}
	c->n++;
	return 0;
}

static int read_clusters(const char *path, struct clusters *m,
			 struct kt_error *err)
{
	struct kt_csv_opts o;
	struct kt_csv *c = NULL;
	struct kt_csv_row row;
	int r, first = 1;

	kt_csv_opts_default(&o);
	if ((r = kt_csv_open(path, &o, &c, err)) != KT_OK)
		return r;
	while ((r = kt_csv_next(c, &row, err)) == 1) {
		int added;

		if (first) {
			first = 0;
			if (row.n < 2 || strcmp(row.field[0], "id") != 0 ||
			    strcmp(row.field[1], "cluster") != 0) {
				r = kt_error_set(err, KT_ERR_INVALID,
						 "%s:%llu: expected the header "
						 "id,cluster",
						 path,
						 (unsigned long long)row.line);
				break;
			}
			continue;
		}
		if (row.n < 2 || row.len[0] == 0 || row.len[1] == 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%llu: expected id,cluster", path,
					 (unsigned long long)row.line);
			break;
		}
		if ((added = clusters_add(m, row.field[0], row.field[1])) < 0) {
			r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			break;
		}
		if (added == 1) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%llu: id '%.100s' appears twice",
					 path, (unsigned long long)row.line,
					 row.field[0]);
			break;
		}
	}
	kt_csv_free(c);
	if (r == 0 && first)
		r = kt_error_set(err, KT_ERR_INVALID, "%s: empty file", path);
	return r < 0 ? r : KT_OK;
}

int kt_plan_build(const char *records_path, const char *clusters_path,
		  const struct kt_merge_rules *rules,
		  struct kt_progress *progress, struct kt_merge **out,
		  struct kt_error *err)
{
	struct clusters cl = {0};
	struct kt_recfile *f = NULL;
	struct kt_merge *m = NULL;
	struct kt_rec *rec;
	struct kt_error e;
	uint64_t n = 0, seen = 0;
	int r;

	*out = NULL;
	if ((r = read_clusters(clusters_path, &cl, err)) != KT_OK)
		goto cleanup;
	if ((r = kt_merge_new(rules, &m)) != KT_OK) {
		r = kt_error_set(err, r, "out of memory");
		goto cleanup;
	}
	if ((r = kt_recfile_open(records_path, &f, err)) != KT_OK)
		goto cleanup;
	while ((r = kt_recfile_next(f, &rec, err)) == 1) {
		char id[KT_REC_ACCOUNT_ID_MAX + 8];
		size_t slot;

		kt_rec_id(rec, id, sizeof(id));
		if (!kt_strmap_get(&cl.ids, id, &slot)) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%llu: %s is not in %s (was match "
					 "run on these records?)",
					 records_path,
					 (unsigned long long)kt_recfile_line(f),
					 id, clusters_path);
			goto cleanup;
		}
		seen += !cl.seen[slot];
		cl.seen[slot] = 1;
		if ((r = kt_merge_add(m, rec, cl.label[slot], &e)) != KT_OK) {
			r = kt_error_set(err, r, "%s:%llu: %s", records_path,
					 (unsigned long long)kt_recfile_line(f),
					 e.msg);
			goto cleanup;
		}
		n++;
		kt_progress_update(progress, kt_recfile_bytes_read(f), n);
	}
	if (r < 0)
		goto cleanup;
	kt_progress_finish(progress, kt_recfile_bytes_read(f), n);
	if (seen != cl.n) {
		const char *missing = "?";

		for (size_t i = 0; i < cl.n; i++)
			if (!cl.seen[i]) {
				missing = cl.id[i];
				break;
			}
		r = kt_error_set(
		    err, KT_ERR_INVALID,
		    "%s: %llu ids are not in %s (e.g. %.100s)", clusters_path,
		    (unsigned long long)(cl.n - seen), records_path, missing);
		goto cleanup;
	}
	if ((r = kt_merge_finish(m, err)) != KT_OK)
		goto cleanup;
	*out = m;
	m = NULL;
	r = KT_OK;
cleanup:
	kt_recfile_close(f);
	kt_merge_free(m);
	clusters_free(&cl);
	return r;
}

/* ---- writing -------------------------------------------------------- */

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A temporary file next to path, mode 0600 (mkstemp). */
static FILE *temp_next_to(const char *path, char *tmp, size_t cap)
{
	int fd;
	FILE *f;

	if ((size_t)snprintf(tmp, cap, "%s.XXXXXX", path) >= cap)
		return NULL;
	if ((fd = mkstemp(tmp)) < 0)
		return NULL;
	if ((f = fdopen(fd, "w+")) == NULL) {
		close(fd);
		unlink(tmp);
	}
	return f;
}

int kt_plan_write(const char *path, const struct kt_merge *m,
		  json_t *header_extra, char job[KT_PLAN_JOB_MAX],
		  struct kt_error *err)
{
	char utmp[4200] = "", ftmp[4200] = "", digest[65];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	FILE *units = NULL, *out = NULL;
	json_t *header = NULL;
	struct kt_merge_summary sum;
	char buf[65536];
	size_t n;
	int r = KT_ERR_IO;

	job[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "sha256: cannot start");
		goto cleanup;
	}
	if ((units = temp_next_to(path, utmp, sizeof(utmp))) == NULL) {
		r = kt_error_set(err, KT_ERR_IO, "%s: cannot write: %s", path,
				 strerror(errno));
		utmp[0] = '\0';
		goto cleanup;
	}
	for (size_t i = 0; i < kt_merge_nunits(m); i++) {
		json_t *u = kt_merge_unit_json(m, i),
		       *o = json_pack("{s:I}", "n", (json_int_t)(i + 1));
		char *line;

		if (u == NULL || o == NULL || json_object_update(o, u) != 0 ||
		    (line = json_dumps(o, JSON_COMPACT |
					      JSON_PRESERVE_ORDER)) == NULL) {
			json_decref(u);
			json_decref(o);
			r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto cleanup;
		}
		json_decref(u);
		json_decref(o);
		n = strlen(line);
		line[n] = '\n';
		EVP_DigestUpdate(ctx, line, n + 1);
		if (fwrite(line, 1, n + 1, units) != n + 1) {
			free(line);
			r = kt_error_set(err, KT_ERR_IO, "%s: %s", utmp,
					 strerror(errno));
			goto cleanup;
		}
		free(line);
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	hex(md, mdlen, digest);
	snprintf(job, KT_PLAN_JOB_MAX, "job-%.12s", digest);
	kt_merge_summary_get(m, &sum);
	header = json_pack("{s:i, s:s, s:I, s:s, s:o}", MAGIC, 1, "job", job,
			   "units", (json_int_t)kt_merge_nunits(m), "digest",
			   digest, "summary", kt_merge_summary_json(&sum));
	if (header == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if (header_extra != NULL)
		json_object_update_missing(header, header_extra);
	if ((out = temp_next_to(path, ftmp, sizeof(ftmp))) == NULL) {
		r = kt_error_set(err, KT_ERR_IO, "%s: cannot write: %s", path,
				 strerror(errno));
		ftmp[0] = '\0';
		goto cleanup;
	}
	if (json_dumpf(header, out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
	    fputc('\n', out) == EOF) {
		r = kt_error_set(err, KT_ERR_IO, "%s: write failed", ftmp);
		goto cleanup;
	}
	rewind(units);
	while ((n = fread(buf, 1, sizeof(buf), units)) > 0)
		if (fwrite(buf, 1, n, out) != n) {
			r = kt_error_set(err, KT_ERR_IO, "%s: %s", ftmp,
					 strerror(errno));
			goto cleanup;
		}
	if (fflush(out) != 0 || fsync(fileno(out)) != 0 || ferror(units) != 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", ftmp,
				 strerror(errno));
		goto cleanup;
	}
	if (rename(ftmp, path) != 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				 strerror(errno));
		goto cleanup;
	}
	ftmp[0] = '\0';
	r = KT_OK;
cleanup:
	if (units != NULL)
		fclose(units);
	if (out != NULL)
		fclose(out);
	if (utmp[0] != '\0')
		unlink(utmp);
	if (ftmp[0] != '\0')
		unlink(ftmp);
	json_decref(header);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* ---- checking a unit ------------------------------------------------ */

static int uerr(struct kt_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int uerr(struct kt_error *err, const char *path, const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_error_set(err, KT_ERR_INVALID, "%s: %s", path, msg);
}

/* Printable text for a Redis hash: no control characters, no braces
 * (the account model refuses them: identifiers become key hash tags). */
static int text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '{' ||
		    *s == '}')
			return 0;
	return 1;
}

/* A password hash as exported: kept verbatim, so braces stay ("{SSHA}");
 * it is only ever a hash value, never part of a key. */
static int hash_ok(const char *s)
{
	if (strlen(s) > 1024)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int source_ok(const char *s)
{
	const char *colon = strchr(s, ':');
	char land[8];
	enum kt_land l;
	size_t n;

	if (colon == NULL || colon - s >= (long)sizeof(land))
		return 0;
	memcpy(land, s, (size_t)(colon - s));
	land[colon - s] = '\0';
	if (kt_land_parse(land, &l) != KT_OK)
		return 0;
	n = strlen(colon + 1);
	if (n == 0 || n > SOURCE_ID_MAX)
		return 0;
	for (const char *p = colon + 1; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '{' ||
		    *p == '}')
			return 0;
	return 1;
}

static const char *const org_keys[] = {
    "legal_name",   "legal_form", "vat",      "vat_valid",     "taxno",
    "taxno_valid",  "hr_raw",	  "hr_court", "hr_court_name", "hr_type",
    "hr_number",    "hr_valid",	  "wid",      "wid_valid",     "street",
    "house_number", "postcode",	  "city",     "country",       NULL};

static const char *sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int digits(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789") == n;
}

static int check_org(json_t *org, struct kt_error *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(org))
		return uerr(err, ".org", "must be an object");
	json_object_foreach(org, k, v)
	{
		size_t i;
		char path[64];

		snprintf(path, sizeof(path), ".org.%.32s", k);
		for (i = 0; org_keys[i] != NULL; i++)
			if (strcmp(org_keys[i], k) == 0)
				break;
		if (org_keys[i] == NULL)
			return uerr(err, path, "unknown field");
		if (!json_is_string(v) ||
		    !text_ok(json_string_value(v), VALUE_MAX))
			return uerr(err, path,
				    "must be text of at most %d bytes without "
				    "control characters or braces",
				    VALUE_MAX);
		if (strstr(k, "_valid") != NULL &&
		    strcmp(json_string_value(v), "0") != 0 &&
		    strcmp(json_string_value(v), "1") != 0)
			return uerr(err, path, "must be \"0\" or \"1\"");
	}
	if (*sget(org, "legal_name") == '\0')
		return uerr(err, ".org.legal_name", "required");
	/* what is indexed must really be valid */
	if (strcmp(sget(org, "vat_valid"), "1") == 0) {
		char out[12];
		struct kt_error e;

		if (kt_ident_vat_normalize(sget(org, "vat"), out, &e) !=
			KT_OK ||
		    strcmp(out, sget(org, "vat")) != 0)
			return uerr(err, ".org.vat", "marked valid but is not");
	}
	if (strcmp(sget(org, "taxno_valid"), "1") == 0 &&
	    !digits(sget(org, "taxno"), 13))
		return uerr(err, ".org.taxno",
			    "marked valid but is not 13 "
			    "digits");
	if (strcmp(sget(org, "wid_valid"), "1") == 0) {
		char out[18];
		struct kt_error e;

		if (kt_ident_widnr_normalize(sget(org, "wid"), out, &e) !=
			KT_OK ||
		    strcmp(out, sget(org, "wid")) != 0)
			return uerr(err, ".org.wid", "marked valid but is not");
	}
	if (strcmp(sget(org, "hr_valid"), "1") == 0 &&
	    (*sget(org, "hr_court") == '\0' || *sget(org, "hr_type") == '\0' ||
	     *sget(org, "hr_number") == '\0'))
		return uerr(err, ".org.hr_valid",
			    "a valid register entry needs court, type and "
			    "number");
	return KT_OK;
}

static int check_person(json_t *p, size_t i, struct kt_error *err)
{
	static const char *const keys[] = {"email",  "name",   "email_verified",
					   "pwhash", "legacy", "sources",
					   "role",   NULL};
	char path[64], mail[KT_NORM_EMAIL_MAX + 1];
	struct kt_error e;
	const char *k, *role;
	json_t *v;

	snprintf(path, sizeof(path), ".people[%zu]", i);
	if (!json_is_object(p))
		return uerr(err, path, "must be an object");
	json_object_foreach(p, k, v)
	{
		size_t j;

		for (j = 0; keys[j] != NULL; j++)
			if (strcmp(keys[j], k) == 0)
				break;
		if (keys[j] == NULL)
			return uerr(err, path, "unknown key '%.32s'", k);
	}
	if (kt_norm_email(sget(p, "email"), mail, sizeof(mail), &e) != KT_OK ||
	    strcmp(mail, sget(p, "email")) != 0 || !text_ok(mail, 254))
		return uerr(err, path, "email: not a valid address");
	for (const char *c = mail; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			return uerr(err, path, "email: must be lower case");
	if (!text_ok(sget(p, "name"), 300))
		return uerr(err, path, "name: at most 300 bytes of text");
	if (strcmp(sget(p, "email_verified"), "0") != 0 &&
	    strcmp(sget(p, "email_verified"), "1") != 0)
		return uerr(err, path,
			    "email_verified: must be \"0\" or "
			    "\"1\"");
	if (!hash_ok(sget(p, "pwhash")))
		return uerr(err, path, "pwhash: at most 1024 bytes of text");
	role = sget(p, "role");
	if (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0 &&
	    strcmp(role, "representative") != 0)
		return uerr(err, path,
			    "role: must be admin, member or representative");
	v = json_object_get(p, "legacy");
	if (v != NULL) {
		json_t *h;

		if (!json_is_object(v) ||
		    json_object_size(v) > KT_MERGE_MAX_LEGACY_HASHES)
			return uerr(err, path,
				    "legacy: an object of at most %d hashes",
				    KT_MERGE_MAX_LEGACY_HASHES);
		json_object_foreach(v, k, h)
		{
			if (!source_ok(k) || !json_is_string(h) ||
			    !hash_ok(json_string_value(h)))
				return uerr(err, path,
					    "legacy: '%.80s' must name a "
					    "source and hold a hash",
					    k);
		}
	}
	v = json_object_get(p, "sources");
	if (v != NULL && !json_is_array(v))
		return uerr(err, path, "sources: must be an array");
	return KT_OK;
}

int kt_plan_unit_check(json_t *unit, struct kt_error *err)
{
	static const char *const keys[] = {"n",
					   "unit",
					   "org",
					   "sources",
					   "people",
					   "provenance",
					   "identifier_conflicts",
					   NULL};
	const char *k;
	json_t *v, *sources, *people;
	size_t i;
	int r;

	if (!json_is_object(unit))
		return uerr(err, ".", "must be an object");
	json_object_foreach(unit, k, v)
	{
		size_t j;

		for (j = 0; keys[j] != NULL; j++)
			if (strcmp(keys[j], k) == 0)
				break;
		if (keys[j] == NULL)
			return uerr(err, ".", "unknown key '%.32s'", k);
	}
	if (!json_is_string(json_object_get(unit, "unit")) ||
	    !text_ok(sget(unit, "unit"), 300) || *sget(unit, "unit") == '\0')
		return uerr(err, ".unit", "must be the cluster's name");
	if ((r = check_org(json_object_get(unit, "org"), err)) != KT_OK)
		return r;
	sources = json_object_get(unit, "sources");
	if (!json_is_array(sources) || json_array_size(sources) < 1 ||
	    json_array_size(sources) > MAX_SOURCES)
		return uerr(err, ".sources", "must be 1 to %d source links",
			    MAX_SOURCES);
	json_array_foreach(sources, i, v)
	{
		if (!json_is_string(v) || !source_ok(json_string_value(v)))
			return uerr(err, ".sources",
				    "[%zu]: not LAND:account-id", i);
	}
	people = json_object_get(unit, "people");
	if (!json_is_array(people) || json_array_size(people) > MAX_PEOPLE)
		return uerr(err, ".people", "must be an array of at most %d",
			    MAX_PEOPLE);
	json_array_foreach(people, i, v)
	{
		if ((r = check_person(v, i, err)) != KT_OK)
			return r;
	}
	return KT_OK;
}

/* ---- reading -------------------------------------------------------- */

struct kt_plan {
	char *path;
	FILE *f;
	char *line;
	size_t cap;
	long units_at; /* file offset of the first unit */
	uint64_t lineno, next_n;
	json_t *header;
	char job[KT_PLAN_JOB_MAX];
	uint64_t units;
};

/* One line without its newline: 1, 0 at the end, <0 on error. */
static int read_line(struct kt_plan *p, size_t *len, struct kt_error *err)
{
	size_t n = 0;

	for (;;) {
		int c = getc(p->f);

		if (c == EOF) {
			if (ferror(p->f))
				return kt_error_set(err, KT_ERR_IO, "%s: %s",
						    p->path, strerror(errno));
			if (n == 0)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (n + 2 > p->cap) {
			size_t nc = p->cap ? p->cap * 2 : 65536;
			char *nl;

			if (nc > KT_PLAN_LINE_MAX + 2)
				nc = KT_PLAN_LINE_MAX + 2;
			if (n + 2 > nc)
				return kt_error_set(
				    err, KT_ERR_LIMIT,
				    "%s:%llu: line longer than %d bytes",
				    p->path, (unsigned long long)p->lineno + 1,
				    KT_PLAN_LINE_MAX);
			if ((nl = realloc(p->line, nc)) == NULL)
				return kt_error_set(err, KT_ERR_NOMEM,
						    "out of memory");
			p->line = nl;
			p->cap = nc;
		}
		p->line[n++] = (char)c;
	}
	p->line[n] = '\0';
	p->lineno++;
	*len = n;
	return 1;
}

static int check_header(struct kt_plan *p, struct kt_error *err)
{
	json_t *h = p->header;
	const char *job = json_string_value(json_object_get(h, "job"));
	const char *dg = json_string_value(json_object_get(h, "digest"));
	json_t *u = json_object_get(h, "units");

	if (!json_is_object(h) ||
	    json_integer_value(json_object_get(h, MAGIC)) != 1)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s:1: not a kontor-migrate plan (version "
				    "1)",
				    p->path);
	if (job == NULL || strlen(job) != 16 || strncmp(job, "job-", 4) != 0 ||
	    strspn(job + 4, "0123456789abcdef") != 12 || dg == NULL ||
	    strlen(dg) != 64 || strncmp(job + 4, dg, 12) != 0 ||
	    !json_is_integer(u) || json_integer_value(u) < 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s:1: the header needs job, digest and "
				    "units (job = job- + the digest's first "
				    "12 digits)",
				    p->path);
	snprintf(p->job, sizeof(p->job), "%s", job);
	p->units = (uint64_t)json_integer_value(u);
	return KT_OK;
}

int kt_plan_open(const char *path, struct kt_plan **out, struct kt_error *err)
{
	struct kt_plan *p;
	EVP_MD_CTX *ctx = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char digest[65];
	json_error_t je;
	size_t len;
	int r;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->path = strdup(path)) == NULL) {
		free(p);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	if ((p->f = fopen(path, "r")) == NULL) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				 strerror(errno));
		goto fail;
	}
	if ((r = read_line(p, &len, err)) <= 0) {
		if (r == 0)
			r = kt_error_set(err, KT_ERR_INVALID, "%s: empty file",
					 path);
		goto fail;
	}
	p->header = json_loadb(p->line, len, JSON_REJECT_DUPLICATES, &je);
	if ((r = check_header(p, err)) != KT_OK)
		goto fail;
	p->units_at = ftell(p->f);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "sha256: cannot start");
		goto fail;
	}
	for (uint64_t n = 1;; n++) {
		json_t *u;
		struct kt_error e;

		if ((r = read_line(p, &len, err)) < 0)
			goto fail;
		if (r == 0) {
			if (n - 1 != p->units) {
				r = kt_error_set(err, KT_ERR_INVALID,
						 "%s: %llu units, the header "
						 "says %llu (file truncated?)",
						 path,
						 (unsigned long long)(n - 1),
						 (unsigned long long)p->units);
				goto fail;
			}
			break;
		}
		EVP_DigestUpdate(ctx, p->line, len);
		EVP_DigestUpdate(ctx, "\n", 1);
		u = json_loadb(p->line, len, JSON_REJECT_DUPLICATES, &je);
		if (u == NULL) {
			r = kt_error_set(
			    err, KT_ERR_INVALID, "%s:%llu: invalid JSON: %s",
			    path, (unsigned long long)p->lineno, je.text);
			goto fail;
		}
		r = kt_plan_unit_check(u, &e);
		if (r == KT_OK && json_integer_value(json_object_get(u, "n")) !=
				      (json_int_t)n)
			r = kt_error_set(&e, KT_ERR_INVALID,
					 ".n: expected %llu",
					 (unsigned long long)n);
		json_decref(u);
		if (r != KT_OK) {
			r = kt_error_set(err, r, "%s:%llu: %s", path,
					 (unsigned long long)p->lineno, e.msg);
			goto fail;
		}
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	hex(md, mdlen, digest);
	if (strcmp(digest, json_string_value(
			       json_object_get(p->header, "digest"))) != 0) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "%s: the units do not match the header's "
				 "digest (file edited or truncated?)",
				 path);
		goto fail;
	}
	EVP_MD_CTX_free(ctx);
	ctx = NULL;
	if (fseek(p->f, p->units_at, SEEK_SET) != 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: cannot rewind", path);
		goto fail;
	}
	p->lineno = 1;
	p->next_n = 1;
	*out = p;
	return KT_OK;
fail:
	EVP_MD_CTX_free(ctx);
	kt_plan_close(p);
	return r;
}

void kt_plan_close(struct kt_plan *p)
{
	if (p == NULL)
		return;
	if (p->f != NULL)
		fclose(p->f);
	json_decref(p->header);
	free(p->line);
	free(p->path);
	free(p);
}

const char *kt_plan_job(const struct kt_plan *p)
{
	return p->job;
}

uint64_t kt_plan_units(const struct kt_plan *p)
{
	return p->units;
}

json_t *kt_plan_header(const struct kt_plan *p)
{
	return p->header;
}

int kt_plan_next(struct kt_plan *p, const char **line, size_t *len, uint64_t *n,
		 struct kt_error *err)
{
	int r = read_line(p, len, err);

	if (r <= 0)
		return r;
	*line = p->line;
	*n = p->next_n++;
	return 1;
}

int kt_plan_seek(struct kt_plan *p, uint64_t n, struct kt_error *err)
{
	const char *line;
	size_t len;
	uint64_t k;
	int r;

	while (p->next_n <= n)
		if ((r = kt_plan_next(p, &line, &len, &k, err)) <= 0)
			return r < 0 ? r
				     : kt_error_set(err, KT_ERR_INVALID,
						    "%s: no unit %llu", p->path,
						    (unsigned long long)n);
	return KT_OK;
}
