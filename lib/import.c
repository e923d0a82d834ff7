#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kontor/csv.h"
#include "kontor/err.h"
#include "kontor/import.h"
#include "kontor/jsonl.h"
#include "kontor/mapping.h"
#include "kontor/record.h"
#include "kontor/util.h"

/* ---- account ids seen, per Land ----------------------------------------- */

/*
 * Open addressing over 64-bit FNV-1a hashes with the key bytes in one pool:
 * a million ids cost about 50 MB and no allocation per row.
 */
struct id_entry {
	uint64_t h;   /* 0: empty */
	uint32_t off; /* key in pool */
	uint16_t len;
	uint16_t file;
	uint32_t line;
};

struct idset {
	struct id_entry *e;
	size_t cap, n;
	char *pool;
	size_t plen, pcap;
};

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

static int idset_grow(struct idset *s)
{
	size_t nc = s->cap ? s->cap * 2 : 1024;
	struct id_entry *ne = calloc(nc, sizeof(*ne));

	if (ne == NULL)
		return KT_ERR_NOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;
		if (s->e[i].h == 0)
			continue;
		for (j = s->e[i].h & (nc - 1); ne[j].h != 0;
		     j = (j + 1) & (nc - 1))
			;
		ne[j] = s->e[i];
	}
	free(s->e);
	s->e = ne;
	s->cap = nc;
	return KT_OK;
}

/*
 * Insert key; 0 if new, 1 if already present (*first gets the entry of the
 * first occurrence), or KT_ERR_NOMEM / KT_ERR_LIMIT.
 */
static int idset_add(struct idset *s, const char *key, size_t n, uint16_t file,
		     uint64_t line, const struct id_entry **first)
{
	uint64_t h = fnv1a(key, n);
	size_t j;

	if (n > UINT16_MAX)
		return KT_ERR_LIMIT;
	if ((s->n + 1) * 10 > s->cap * 7 && idset_grow(s) != KT_OK)
		return KT_ERR_NOMEM;
	for (j = h & (s->cap - 1); s->e[j].h != 0; j = (j + 1) & (s->cap - 1))
		if (s->e[j].h == h && s->e[j].len == n &&
		    memcmp(s->pool + s->e[j].off, key, n) == 0) {
			*first = &s->e[j];
			return 1;
		}
	if (s->plen + n > s->pcap) {
		size_t nc = s->pcap ? s->pcap * 2 : 65536;
		char *np;
		while (nc < s->plen + n)
			nc *= 2;
		if (nc > UINT32_MAX || (np = realloc(s->pool, nc)) == NULL)
			return KT_ERR_NOMEM;
		s->pool = np;
		s->pcap = nc;
	}
	memcpy(s->pool + s->plen, key, n);
	s->e[j] =
	    (struct id_entry){h, (uint32_t)s->plen, (uint16_t)n, file,
			      line > UINT32_MAX ? UINT32_MAX : (uint32_t)line};
	s->plen += n;
	s->n++;
	return 0;
}

static void idset_free(struct idset *s)
{
	free(s->e);
	free(s->pool);
}

/* ---- output -------------------------------------------------------------- */

struct out {
	char *path, *tmp;
	FILE *f;
	char *buf;
};

static int out_open(struct out *o, const char *path, struct kt_error *err)
{
	int fd;
	size_t n = strlen(path) + 16;

	memset(o, 0, sizeof(*o));
	if ((o->path = strdup(path)) == NULL || (o->tmp = malloc(n)) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	snprintf(o->tmp, n, "%s.tmp-XXXXXX", path);
	/* mkstemp: mode 0600, records hold legacy password hashes */
	if ((fd = mkstemp(o->tmp)) < 0) {
		int e = errno;
		free(o->tmp);
		o->tmp = NULL;
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(e));
	}
	if ((o->f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	}
	if ((o->buf = malloc(1 << 20)) != NULL)
		setvbuf(o->f, o->buf, _IOFBF, 1 << 20);
	return KT_OK;
}

/* Flush, sync and close; 0 or KT_ERR_IO. */
static int out_close(struct out *o, struct kt_error *err)
{
	int bad;

	if (o->f == NULL)
		return KT_OK;
	bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
	bad |= fclose(o->f) != 0;
	o->f = NULL;
	if (bad)
		return kt_error_set(err, KT_ERR_IO, "%s: write failed: %s",
				    o->path, strerror(errno));
	return KT_OK;
}

static void out_discard(struct out *o)
{
	if (o->f != NULL)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp != NULL)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

static int out_commit(struct out *o, struct kt_error *err)
{
	if (rename(o->tmp, o->path) != 0)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", o->path,
				    strerror(errno));
	free(o->tmp);
	o->tmp = NULL;
	return KT_OK;
}

/* ---- the run ------------------------------------------------------------- */

struct run {
	const struct kt_import_opts *o;
	struct kt_import_summary *sum;
	struct idset ids;
	struct out recs, rejs;
	struct kt_rec *rec;
	struct kt_progress *prog;
	const char **files; /* every input, for duplicate messages */
	size_t n_files;
	uint64_t bytes_before, bytes_total;
	int have_encoding;
	enum kt_csv_encoding encoding;
};

static int write_reject(struct run *run, const char *file, uint64_t line,
			const char *account_id, enum kt_field f,
			const char *reason, enum kt_land land)
{
	FILE *out = run->rejs.f;
	char ln[24];

	snprintf(ln, sizeof(ln), "%llu", (unsigned long long)line);
	kt_csv_put(out, file);
	fputc(',', out);
	fputs(ln, out);
	fputc(',', out);
	kt_csv_put(out, account_id);
	fputc(',', out);
	kt_csv_put(out,
		   f == KT_FIELD_IGNORE ? "row" : kt_mapping_field_name(f));
	fputc(',', out);
	kt_csv_put(out, reason);
	fputc('\n', out);
	run->sum->rejected++;
	run->sum->rejected_by_field[f]++;
	run->sum->rejected_by_land[land]++;
	return ferror(out) ? KT_ERR_IO : KT_OK;
}

static const char *account_id_of(const struct kt_mapping *m,
				 const char *const *vals, char *buf, size_t cap)
{
	for (size_t i = 0; i < m->n_columns; i++)
		if (m->columns[i].field == KT_FIELD_ACCOUNT_ID && vals[i]) {
			const char *s = vals[i];
			size_t n;
			while (*s == ' ' || *s == '\t')
				s++;
			n = strnlen(s, cap - 1);
			while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			memcpy(buf, s, n);
			buf[n] = '\0';
			return buf;
		}
	return "";
}

/* One mapped row: build, de-duplicate ids, write record or reject. */
static int handle_row(struct run *run, const struct kt_mapping *m,
		      const char *const *vals, const char *file,
		      uint16_t file_no, uint64_t line, struct kt_error *err)
{
	struct kt_rec_reject rej;
	struct kt_rec *r = run->rec;
	char key[KT_REC_ACCOUNT_ID_MAX + 4], idbuf[KT_REC_ACCOUNT_ID_MAX + 1];
	const struct id_entry *first = NULL;
	size_t kn;
	int rc;

	rc = kt_rec_build(r, m, vals, file, line, &rej);
	if (rc == KT_ERR_NOMEM)
		return kt_error_set(err, rc, "out of memory");
	if (rc != KT_OK)
		return write_reject(
			   run, file, line,
			   account_id_of(m, vals, idbuf, sizeof(idbuf)),
			   rej.field, rej.reason, m->land) == KT_OK
			   ? KT_OK
			   : kt_error_set(err, KT_ERR_IO, "%s: write failed",
					  run->o->rejects_path);
	key[0] = (char)('A' + m->land);
	kn = strlen(r->account_id);
	memcpy(key + 1, r->account_id, kn);
	rc = idset_add(&run->ids, key, kn + 1, file_no, line, &first);
	if (rc < 0)
		return kt_error_set(err, rc, "out of memory");
	if (rc == 1) {
		char reason[256];
		snprintf(reason, sizeof(reason),
			 "duplicate account id (first at %s:%u)",
			 run->files[first->file], first->line);
		run->sum->duplicate_ids++;
		if (write_reject(run, file, line, r->account_id,
				 KT_FIELD_ACCOUNT_ID, reason, m->land) != KT_OK)
			return kt_error_set(err, KT_ERR_IO, "%s: write failed",
					    run->o->rejects_path);
		return KT_OK;
	}
	if ((rc = kt_rec_write_json(r, run->recs.f)) != KT_OK)
		return kt_error_set(err, rc, "%s: write failed",
				    run->o->out_path);
	run->sum->imported++;
	run->sum->imported_by_land[m->land]++;
	run->sum->issues += r->n_issues;
	for (size_t i = 0; i < r->n_issues; i++)
		run->sum->issues_by_field[r->issues[i].field]++;
	if (r->vat.raw[0])
		r->vat.valid ? run->sum->vat_valid++ : run->sum->vat_invalid++;
	if (r->taxno.raw[0])
		r->taxno.valid ? run->sum->taxno_valid++
			       : run->sum->taxno_invalid++;
	if (r->reg.raw[0]) {
		if (!r->reg.valid)
			run->sum->register_invalid++;
		else if (r->reg.court_known)
			run->sum->register_known++;
		else
			run->sum->register_unknown_court++;
	}
	if (r->addr.postcode_restored)
		run->sum->postcode_restored++;
	return KT_OK;
}

static int import_csv(struct run *run, const struct kt_mapping *m,
		      const char *file, uint16_t file_no, struct kt_error *err)
{
	struct kt_csv_opts co;
	struct kt_csv *c = NULL;
	struct kt_csv_row row;
	size_t *idx = NULL, expect = 0;
	const char **vals = NULL;
	int r, bound = 0;

	kt_csv_opts_default(&co);
	co.delimiter = m->delimiter;
	co.quote = m->quote;
	co.encoding = run->have_encoding ? run->encoding : m->encoding;
	if ((r = kt_csv_open(file, &co, &c, err)) != KT_OK)
		goto cleanup;
	idx = calloc(m->n_columns, sizeof(*idx));
	vals = calloc(m->n_columns, sizeof(*vals));
	if (idx == NULL || vals == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if (m->header) {
		r = kt_csv_next(c, &row, err);
		if (r == 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:1: empty file: no header", file);
			goto cleanup;
		}
		if (r < 0)
			goto cleanup;
		if ((r = kt_mapping_bind_header(m, row.field, row.n, file,
						row.line, idx, err)) != KT_OK)
			goto cleanup;
		expect = row.n;
		bound = 1;
	}
	while ((r = kt_csv_next(c, &row, err)) == 1) {
		run->sum->rows++;
		if (!bound) {
			if ((r = kt_mapping_bind_header(m, NULL, row.n, file,
							row.line, idx, err)) !=
			    KT_OK)
				goto cleanup;
			expect = row.n;
			bound = 1;
		}
		if (row.n != expect) {
			char reason[96];
			snprintf(reason, sizeof(reason),
				 "expected %zu fields, found %zu", expect,
				 row.n);
			run->sum->wrong_field_count++;
			if (write_reject(run, file, row.line, "",
					 KT_FIELD_IGNORE, reason,
					 m->land) != KT_OK) {
				r = kt_error_set(err, KT_ERR_IO,
						 "%s: write failed",
						 run->o->rejects_path);
				goto cleanup;
			}
			continue;
		}
		for (size_t i = 0; i < m->n_columns; i++)
			vals[i] = row.field[idx[i]];
		if ((r = handle_row(run, m, vals, file, file_no, row.line,
				    err)) != KT_OK)
			goto cleanup;
		kt_progress_update(run->prog,
				   run->bytes_before + kt_csv_bytes_read(c),
				   run->sum->rows);
	}
	if (r < 0)
		goto cleanup;
	run->bytes_before += kt_csv_bytes_read(c);
	r = KT_OK;
cleanup:
	free(vals);
	free(idx);
	kt_csv_free(c);
	return r;
}

static int import_jsonl(struct run *run, const struct kt_mapping *m,
			const char *file, uint16_t file_no,
			struct kt_error *err)
{
	struct kt_jsonl *j = NULL;
	const size_t cap = KT_NORM_TEXT_MAX + 1;
	char *bufs = NULL;
	const char **vals = NULL;
	json_t *obj = NULL;
	uint64_t line;
	int r;

	if ((r = kt_jsonl_open(file, 0, &j, err)) != KT_OK)
		goto cleanup;
	bufs = malloc(m->n_columns * cap);
	vals = calloc(m->n_columns, sizeof(*vals));
	if (bufs == NULL || vals == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	while ((r = kt_jsonl_next(j, &obj, &line, err)) == 1) {
		const char *reason = NULL;
		enum kt_field bad = KT_FIELD_IGNORE;

		run->sum->rows++;
		for (size_t i = 0; i < m->n_columns; i++) {
			char *b = bufs + i * cap;
			if (kt_jsonl_text(obj, m->columns[i].column, b, cap,
					  &reason) != KT_OK) {
				bad = m->columns[i].field;
				if (strcmp(reason, "value too long") == 0)
					reason = "longer than 1024 bytes";
				break;
			}
			vals[i] = b;
		}
		if (reason != NULL) {
			char idbuf[KT_REC_ACCOUNT_ID_MAX + 1] = "";
			for (size_t i = 0; i < m->n_columns; i++)
				if (m->columns[i].field == KT_FIELD_ACCOUNT_ID)
					kt_jsonl_text(obj, m->columns[i].column,
						      idbuf, sizeof(idbuf),
						      NULL);
			if (write_reject(run, file, line, idbuf, bad, reason,
					 m->land) != KT_OK) {
				r = kt_error_set(err, KT_ERR_IO,
						 "%s: write failed",
						 run->o->rejects_path);
				goto cleanup;
			}
		} else if ((r = handle_row(run, m, vals, file, file_no, line,
					   err)) != KT_OK) {
			goto cleanup;
		}
		json_decref(obj);
		obj = NULL;
		kt_progress_update(run->prog,
				   run->bytes_before + kt_jsonl_bytes_read(j),
				   run->sum->rows);
	}
	if (r < 0)
		goto cleanup;
	run->bytes_before += kt_jsonl_bytes_read(j);
	r = KT_OK;
cleanup:
	json_decref(obj);
	free(vals);
	free(bufs);
	kt_jsonl_free(j);
	return r;
}

int kt_import_run(const struct kt_import_source *src, size_t n_src,
		  const struct kt_import_opts *o, struct kt_import_summary *sum,
		  struct kt_error *err)
{
	struct run run;
	struct kt_mapping **maps = NULL;
	int64_t t0 = kt_mono_ms();
	size_t fi = 0;
	int r;

	memset(sum, 0, sizeof(*sum));
	memset(&run, 0, sizeof(run));
	run.o = o;
	run.sum = sum;
	if (o->out_path == NULL || o->rejects_path == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "--out and --rejects are required");
	if (strcmp(o->out_path, o->rejects_path) == 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "--out and --rejects must differ");
	if (o->encoding != NULL) {
		if (kt_csv_encoding_parse(o->encoding, &run.encoding) != KT_OK)
			return kt_error_set(err, KT_ERR_INVALID,
					    "--encoding: unknown encoding '%s' "
					    "(expected utf-8, windows-1252 or "
					    "iso-8859-1)",
					    o->encoding);
		run.have_encoding = 1;
	}
	if ((maps = calloc(n_src ? n_src : 1, sizeof(*maps))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	/* Every mapping and every input before the first byte of output. */
	for (size_t s = 0; s < n_src; s++) {
		if ((r = kt_mapping_load_file(src[s].mapping_path, &maps[s],
					      err)) != KT_OK)
			goto cleanup;
		if (run.have_encoding && maps[s]->format == KT_MAPPING_JSONL &&
		    run.encoding != KT_CSV_UTF8) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "--encoding: %s: JSON Lines are "
					 "always UTF-8",
					 src[s].mapping_path);
			goto cleanup;
		}
		if (src[s].n_files == 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: no input files follow this "
					 "mapping",
					 src[s].mapping_path);
			goto cleanup;
		}
		run.n_files += src[s].n_files;
	}
	if (run.n_files == 0) {
		r = kt_error_set(err, KT_ERR_INVALID, "no input files");
		goto cleanup;
	}
	if (run.n_files > UINT16_MAX) {
		r = kt_error_set(err, KT_ERR_LIMIT, "more than %d input files",
				 UINT16_MAX);
		goto cleanup;
	}
	if ((run.files = calloc(run.n_files, sizeof(*run.files))) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t s = 0; s < n_src; s++)
		for (size_t k = 0; k < src[s].n_files; k++) {
			struct stat st;
			const char *f = src[s].files[k];
			if (stat(f, &st) != 0) {
				r = kt_error_set(err, KT_ERR_IO, "%s: %s", f,
						 strerror(errno));
				goto cleanup;
			}
			if (!S_ISREG(st.st_mode)) {
				r = kt_error_set(err, KT_ERR_IO,
						 "%s: not a regular file", f);
				goto cleanup;
			}
			run.bytes_total += (uint64_t)st.st_size;
			run.files[fi++] = f;
		}
	if ((r = out_open(&run.recs, o->out_path, err)) != KT_OK ||
	    (r = out_open(&run.rejs, o->rejects_path, err)) != KT_OK)
		goto cleanup;
	fputs("file,line,account_id,field,reason\n", run.rejs.f);
	if ((run.rec = kt_rec_new()) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	run.prog = kt_progress_new(o->progress_out ? o->progress_out : stderr,
				   o->progress, "import", "records",
				   run.bytes_total, 5);
	fi = 0;
	for (size_t s = 0; s < n_src; s++)
		for (size_t k = 0; k < src[s].n_files; k++, fi++) {
			const char *f = src[s].files[k];
			sum->files++;
			r = maps[s]->format == KT_MAPPING_JSONL
				? import_jsonl(&run, maps[s], f, (uint16_t)fi,
					       err)
				: import_csv(&run, maps[s], f, (uint16_t)fi,
					     err);
			if (r != KT_OK)
				goto cleanup;
		}
	sum->bytes = run.bytes_before;
	kt_progress_finish(run.prog, run.bytes_before, sum->rows);
	if ((r = out_close(&run.recs, err)) != KT_OK ||
	    (r = out_close(&run.rejs, err)) != KT_OK ||
	    (r = out_commit(&run.rejs, err)) != KT_OK ||
	    (r = out_commit(&run.recs, err)) != KT_OK)
		goto cleanup;
	r = KT_OK;
cleanup:
	if (r != KT_OK && run.prog != NULL) {
		/* end the bar's line before the error message */
		if (o->progress == KT_PROGRESS_BAR)
			fputc('\n', o->progress_out ? o->progress_out : stderr);
	}
	sum->seconds = (double)(kt_mono_ms() - t0) / 1000.0;
	kt_progress_free(run.prog);
	kt_rec_free(run.rec);
	out_discard(&run.recs);
	out_discard(&run.rejs);
	idset_free(&run.ids);
	free(run.files);
	for (size_t s = 0; s < n_src && maps; s++)
		kt_mapping_free(maps[s]);
	free(maps);
	return r;
}

static void by_field(FILE *out, const uint64_t *v)
{
	int any = 0;

	for (int f = 0; f < KT_FIELD_COUNT; f++) {
		if (v[f] == 0)
			continue;
		fprintf(out, "%s%s %llu", any ? ", " : "  (",
			f == KT_FIELD_IGNORE ? "row" : kt_mapping_field_name(f),
			(unsigned long long)v[f]);
		any = 1;
	}
	fputs(any ? ")\n" : "\n", out);
}

void kt_import_summary_print(const struct kt_import_summary *s, FILE *out)
{
	double rate = s->seconds > 0 ? (double)s->rows / s->seconds : 0;

	fprintf(out, "import: %llu files, %llu rows in %.2f s (%.0f rows/s)\n",
		(unsigned long long)s->files, (unsigned long long)s->rows,
		s->seconds, rate);
	fprintf(out, "  imported %llu\n", (unsigned long long)s->imported);
	fprintf(out, "  rejected %llu", (unsigned long long)s->rejected);
	by_field(out, s->rejected_by_field);
	fprintf(out, "  issues   %llu", (unsigned long long)s->issues);
	by_field(out, s->issues_by_field);
	fprintf(out,
		"  VAT ids %llu valid / %llu invalid; tax numbers %llu / %llu; "
		"register entries %llu with known court, %llu unknown court, "
		"%llu unparsable; %llu postcodes restored\n",
		(unsigned long long)s->vat_valid,
		(unsigned long long)s->vat_invalid,
		(unsigned long long)s->taxno_valid,
		(unsigned long long)s->taxno_invalid,
		(unsigned long long)s->register_known,
		(unsigned long long)s->register_unknown_court,
		(unsigned long long)s->register_invalid,
		(unsigned long long)s->postcode_restored);
}

static json_t *field_counts(const uint64_t *v)
{
	json_t *o = json_object();

	for (int f = 0; f < KT_FIELD_COUNT && o; f++)
		if (v[f])
			json_object_set_new(o,
					    f == KT_FIELD_IGNORE
						? "row"
						: kt_mapping_field_name(f),
					    json_integer((json_int_t)v[f]));
	return o;
}

json_t *kt_import_summary_json(const struct kt_import_summary *s)
{
	json_t *o = json_object(), *lands = json_object();

	if (o == NULL || lands == NULL) {
		json_decref(o);
		json_decref(lands);
		return NULL;
	}
	for (int l = 1; l <= KT_LAND_COUNT; l++) {
		if (s->imported_by_land[l] == 0 && s->rejected_by_land[l] == 0)
			continue;
		json_object_set_new(
		    lands, kt_land_code(l),
		    json_pack("{s:I,s:I}", "imported",
			      (json_int_t)s->imported_by_land[l], "rejected",
			      (json_int_t)s->rejected_by_land[l]));
	}
	json_object_set_new(o, "files", json_integer((json_int_t)s->files));
	json_object_set_new(o, "rows", json_integer((json_int_t)s->rows));
	json_object_set_new(o, "imported",
			    json_integer((json_int_t)s->imported));
	json_object_set_new(o, "rejected",
			    json_integer((json_int_t)s->rejected));
	json_object_set_new(o, "rejected_by_field",
			    field_counts(s->rejected_by_field));
	json_object_set_new(o, "issues", json_integer((json_int_t)s->issues));
	json_object_set_new(o, "issues_by_field",
			    field_counts(s->issues_by_field));
	json_object_set_new(o, "lands", lands);
	json_object_set_new(
	    o, "identifiers",
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "vat_valid",
		      (json_int_t)s->vat_valid, "vat_invalid",
		      (json_int_t)s->vat_invalid, "taxno_valid",
		      (json_int_t)s->taxno_valid, "taxno_invalid",
		      (json_int_t)s->taxno_invalid, "register_known_court",
		      (json_int_t)s->register_known, "register_unknown_court",
		      (json_int_t)s->register_unknown_court, "register_invalid",
		      (json_int_t)s->register_invalid));
	json_object_set_new(o, "postcodes_restored",
			    json_integer((json_int_t)s->postcode_restored));
	json_object_set_new(o, "duplicate_ids",
			    json_integer((json_int_t)s->duplicate_ids));
	json_object_set_new(o, "wrong_field_count",
			    json_integer((json_int_t)s->wrong_field_count));
	json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
	json_object_set_new(o, "seconds", json_real(s->seconds));
	return o;
}
