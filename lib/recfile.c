/*
 * records.jsonl (the importer's output) as input: a kt_jsonl stream whose
 * objects are read back with kt_rec_from_json. Loading a matcher table maps
 * the profile's fields to kt_rec_match_row's columns by name, so a profile
 * may use any subset of them in any order.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/jsonl.h"
#include "kontor/recfile.h"

struct kt_recfile {
	struct kt_jsonl *jl;
	struct kt_rec *rec;
	char *path;
	uint64_t line, size;
};

int kt_recfile_open(const char *path, struct kt_recfile **out,
		    struct kt_error *err)
{
	struct kt_recfile *f;
	struct stat st;
	int r;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->path = strdup(path)) == NULL ||
	    (f->rec = kt_rec_new()) == NULL) {
		kt_recfile_close(f);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	if ((r = kt_jsonl_open(path, 0, &f->jl, err)) != KT_OK) {
		kt_recfile_close(f);
		return r;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		f->size = (uint64_t)st.st_size;
	*out = f;
	return KT_OK;
}

void kt_recfile_close(struct kt_recfile *f)
{
	if (f == NULL)
		return;
	kt_jsonl_free(f->jl);
	kt_rec_free(f->rec);
	free(f->path);
	free(f);
}

int kt_recfile_next(struct kt_recfile *f, struct kt_rec **rec,
		    struct kt_error *err)
{
	struct kt_error e;
	json_t *obj = NULL;
	int r;

	*rec = NULL;
	r = kt_jsonl_next(f->jl, &obj, &f->line, err);
	if (r <= 0)
		return r;
	r = kt_rec_from_json(f->rec, obj, &e);
	json_decref(obj);
	if (r != KT_OK)
		return kt_error_set(err, r, "%s:%llu: %s", f->path,
				    (unsigned long long)f->line, e.msg);
	*rec = f->rec;
	return 1;
}

uint64_t kt_recfile_line(const struct kt_recfile *f)
{
	return f->line;
}

uint64_t kt_recfile_bytes_read(const struct kt_recfile *f)
{
	return kt_jsonl_bytes_read(f->jl);
}

uint64_t kt_recfile_size(const struct kt_recfile *f)
{
	return f->size;
}

int kt_recfile_sniff(const char *path, struct kt_error *err)
{
	struct kt_jsonl *jl = NULL;
	json_t *obj = NULL, *name;
	uint64_t line;
	int r;

	if ((r = kt_jsonl_open(path, 0, &jl, err)) != KT_OK)
		return r;
	r = kt_jsonl_next(jl, &obj, &line, err);
	kt_jsonl_free(jl);
	if (r < 0)
		return r;
	if (r == 0)
		return 0;
	name = json_object_get(obj, "name");
	r = json_is_object(name) &&
	    json_is_string(json_object_get(name, "key"));
	json_decref(obj);
	return r;
}

/* Which row column each profile field takes, or an error naming them. */
static int map_columns(const struct kt_match_profile *p,
		       unsigned col[KT_MATCH_MAX_FIELDS], struct kt_error *err)
{
	unsigned nf = kt_match_profile_nfields(p);

	for (unsigned f = 0; f < nf; f++) {
		const char *name = kt_match_profile_field(p, f);
		size_t c;

		for (c = 0; c < KT_REC_MATCH_NCOLS; c++)
			if (strcmp(name, kt_rec_match_column(c)) == 0)
				break;
		if (c == KT_REC_MATCH_NCOLS) {
			char list[256];
			size_t n = 0;

			list[0] = '\0';
			for (c = 0; c < KT_REC_MATCH_NCOLS && n < sizeof(list);
			     c++)
				n += (size_t)snprintf(
				    list + n, sizeof(list) - n, "%s%s",
				    c ? ", " : "", kt_rec_match_column(c));
			return kt_error_set(
			    err, KT_ERR_INVALID,
			    "profile field '%s' is not a column "
			    "of the importer's records (%s)",
			    name, list);
		}
		col[f] = (unsigned)c;
	}
	return KT_OK;
}

/*
 * Loading a table in parallel: parsing JSON is most of the work (a record
 * is about 1 KB of JSON), so the file is read in rounds of a few MiB per
 * thread, cut at line ends; each thread parses its part into rows (id and
 * the profile's columns, NUL-separated, in one buffer) and the main thread
 * adds them to the table in file order, so the table does not depend on
 * the number of threads.
 */
#define ROUND_BYTES_PER_THREAD (4u * 1024 * 1024)
#define MAX_THREADS 16

struct part {
	const char *path;
	const char *data;
	size_t len;
	uint64_t first_line;
	const unsigned *col;
	unsigned nf;
	/* output */
	char *buf;
	size_t blen, bcap;
	size_t nrows;
	int rc;
	struct kt_error err;
};

static int part_put(struct part *pt, const char *s)
{
	size_t n = strlen(s) + 1;

	if (pt->blen + n > pt->bcap) {
		size_t ncap = pt->bcap ? pt->bcap * 2 : 1 << 20;
		char *nb;

		while (ncap < pt->blen + n)
			ncap *= 2;
		if ((nb = realloc(pt->buf, ncap)) == NULL)
			return KT_ERR_NOMEM;
		pt->buf = nb;
		pt->bcap = ncap;
	}
	memcpy(pt->buf + pt->blen, s, n);
	pt->blen += n;
	return KT_OK;
}

static void part_parse(struct part *pt)
{
	struct kt_jsonl *jl = NULL;
	struct kt_rec *rec = NULL;
	struct kt_error e;
	json_t *obj = NULL;
	uint64_t line = 0;
	int r;

	pt->blen = 0;
	pt->nrows = 0;
	if ((rec = kt_rec_new()) == NULL) {
		pt->rc = kt_error_set(&pt->err, KT_ERR_NOMEM, "out of memory");
		return;
	}
	if ((r = kt_jsonl_open_mem(pt->path, pt->data, pt->len, 0, &jl,
				   &pt->err)) != KT_OK) {
		pt->rc = r;
		kt_rec_free(rec);
		return;
	}
	kt_jsonl_set_first_line(jl, pt->first_line);
	while ((r = kt_jsonl_next(jl, &obj, &line, &pt->err)) == 1) {
		const char *row[KT_REC_MATCH_NCOLS];
		char id[KT_REC_ACCOUNT_ID_MAX + 8];

		r = kt_rec_from_json(rec, obj, &e);
		json_decref(obj);
		if (r != KT_OK) {
			kt_error_set(&pt->err, r, "%s:%llu: %s", pt->path,
				     (unsigned long long)line, e.msg);
			break;
		}
		if ((r = kt_rec_match_row(rec, row)) != KT_OK ||
		    (r = kt_rec_id(rec, id, sizeof(id))) != KT_OK ||
		    (r = part_put(pt, id)) != KT_OK) {
			kt_error_set(&pt->err, r, "%s:%llu: %s", pt->path,
				     (unsigned long long)line, kt_strerror(r));
			break;
		}
		for (unsigned k = 0; k < pt->nf && r == KT_OK; k++)
			r = part_put(pt, row[pt->col[k]]);
		if (r == KT_OK) {
			char ln[24];

			snprintf(ln, sizeof(ln), "%llu",
				 (unsigned long long)line);
			r = part_put(pt, ln);
		}
		if (r != KT_OK) {
			kt_error_set(&pt->err, r, "out of memory");
			break;
		}
		pt->nrows++;
	}
	pt->rc = r < 0 ? r : KT_OK;
	kt_jsonl_free(jl);
	kt_rec_free(rec);
}

static void *part_main(void *arg)
{
	part_parse(arg);
	return NULL;
}

/* Add the rows of one parsed part to the table, in order. */
static int part_add(struct part *pt, struct kt_match_table *t,
		    struct kt_error *err)
{
	const char *p = pt->buf, *vals[KT_MATCH_MAX_FIELDS];
	struct kt_error e;
	int r;

	for (size_t i = 0; i < pt->nrows; i++) {
		const char *id = p;

		p += strlen(p) + 1;
		for (unsigned k = 0; k < pt->nf; k++) {
			vals[k] = p;
			p += strlen(p) + 1;
		}
		if ((r = kt_match_table_add(t, id, vals, NULL, &e)) != KT_OK)
			return kt_error_set(err, r, "%s:%s: %s", pt->path, p,
					    e.msg);
		p += strlen(p) + 1;
	}
	return KT_OK;
}

static unsigned online_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

int kt_recfile_load_table(const char *path, struct kt_match_table *t,
			  unsigned threads, struct kt_progress *progress,
			  struct kt_error *err)
{
	const struct kt_match_profile *p = kt_match_table_profile(t);
	unsigned col[KT_MATCH_MAX_FIELDS], nf = kt_match_profile_nfields(p);
	struct part parts[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	char *buf = NULL;
	size_t cap, len = 0;
	uint64_t line = 1, done = 0, rows = 0;
	int fd = -1, eof = 0, r;

	memset(parts, 0, sizeof(parts));
	if ((r = map_columns(p, col, err)) != KT_OK)
		return r;
	if (threads == 0)
		threads = online_threads();
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	cap = (size_t)threads * ROUND_BYTES_PER_THREAD +
	      KT_JSONL_DEFAULT_MAX_LINE + 2;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	if ((buf = malloc(cap)) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	for (unsigned i = 0; i < threads; i++) {
		parts[i].path = path;
		parts[i].col = col;
		parts[i].nf = nf;
	}
	/* JSON objects are built by several threads: seed jansson's hash
	 * function here, once, instead of racing on it. */
	json_object_seed(0);
	while (!eof || len > 0) {
		size_t end, pos = 0;
		unsigned nparts = 0;

		while (!eof && len < cap - 1) {
			ssize_t n = read(fd, buf + len, cap - 1 - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
						 strerror(errno));
				goto cleanup;
			}
			if (n == 0)
				eof = 1;
			len += (size_t)n;
			if (len >= (size_t)threads * ROUND_BYTES_PER_THREAD)
				break;
		}
		/* whole lines only, unless the file ends without a newline */
		end = len;
		if (!eof) {
			const char *nl = memrchr(buf, '\n', len);

			if (nl == NULL) {
				r = kt_error_set(err, KT_ERR_LIMIT,
						 "%s:%llu: line longer than "
						 "%d bytes",
						 path, (unsigned long long)line,
						 KT_JSONL_DEFAULT_MAX_LINE);
				goto cleanup;
			}
			end = (size_t)(nl - buf) + 1;
		}
		while (pos < end && nparts < threads) {
			struct part *pt = &parts[nparts];
			size_t want = (end - pos) / (threads - nparts), stop;
			const char *nl;

			stop = pos + (want ? want : 1);
			if (stop >= end) {
				stop = end;
			} else {
				nl = memchr(buf + stop - 1, '\n',
					    end - stop + 1);
				stop = nl ? (size_t)(nl - buf) + 1 : end;
			}
			pt->data = buf + pos;
			pt->len = stop - pos;
			pt->first_line = line;
			for (const char *q = pt->data;
			     (q = memchr(q, '\n',
					 (size_t)(pt->data + pt->len - q)));
			     q++)
				line++;
			pos = stop;
			nparts++;
		}
		for (unsigned i = 1; i < nparts; i++)
			if (pthread_create(&th[i], NULL, part_main,
					   &parts[i]) != 0)
				th[i] = 0;
		part_parse(&parts[0]);
		for (unsigned i = 1; i < nparts; i++) {
			if (th[i] != 0)
				pthread_join(th[i], NULL);
			else
				part_parse(&parts[i]);
		}
		for (unsigned i = 0; i < nparts; i++) {
			if (parts[i].rc != KT_OK) {
				*err = parts[i].err;
				r = parts[i].rc;
				goto cleanup;
			}
			if ((r = part_add(&parts[i], t, err)) != KT_OK)
				goto cleanup;
			rows += parts[i].nrows;
		}
		done += end;
		memmove(buf, buf + end, len - end);
		len -= end;
		kt_progress_update(progress, done, rows);
	}
	kt_progress_finish(progress, done, rows);
	r = KT_OK;
cleanup:
	for (unsigned i = 0; i < MAX_THREADS; i++)
		free(parts[i].buf);
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}
