#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/util.h"
#include "match_int.h"

/* ---- string pool ------------------------------------------------------ */

int ktm_pool_init(struct ktm_pool *p)
{
	memset(p, 0, sizeof(*p));
	p->cap = 65536;
	p->offcap = 1024;
	p->arena = malloc(p->cap);
	p->off = malloc(p->offcap * sizeof(*p->off));
	p->hash = malloc(p->offcap * sizeof(*p->hash));
	p->slots = calloc(2048, sizeof(*p->slots));
	p->mask = 2047;
	if (p->arena == NULL || p->off == NULL || p->hash == NULL ||
	    p->slots == NULL) {
		ktm_pool_cleanup(p);
		return KT_ERR_NOMEM;
	}
	p->off[0] = 0;
	return KT_OK;
}

void ktm_pool_cleanup(struct ktm_pool *p)
{
	free(p->arena);
	free(p->off);
	free(p->hash);
	free(p->slots);
	memset(p, 0, sizeof(*p));
}

static uint32_t pool_hash(const char *s, size_t n)
{
	return (uint32_t)ktm_hash_bytes(s, n, 0);
}

static int pool_grow_slots(struct ktm_pool *p)
{
	uint32_t nmask = p->mask * 2 + 1;
	uint32_t *ns = calloc((size_t)nmask + 1, sizeof(*ns));

	if (ns == NULL)
		return KT_ERR_NOMEM;
	for (uint32_t id = 0; id < p->count; id++) {
		uint32_t i = p->hash[id] & nmask;

		while (ns[i] != 0)
			i = (i + 1) & nmask;
		ns[i] = id + 1;
	}
	free(p->slots);
	p->slots = ns;
	p->mask = nmask;
	return KT_OK;
}

static int pool_find(const struct ktm_pool *p, const char *s, size_t n,
		     uint32_t h, uint32_t *slot)
{
	uint32_t i = h & p->mask;

	for (;; i = (i + 1) & p->mask) {
		uint32_t v = p->slots[i];

		if (v == 0) {
			*slot = i;
			return 0;
		}
		v--;
		if (p->hash[v] == h && ktm_pool_len(p, v) == n &&
		    memcmp(ktm_pool_str(p, v), s, n) == 0) {
			*slot = i;
			return 1;
		}
	}
}

int ktm_pool_lookup(const struct ktm_pool *p, const char *s, size_t n,
		    uint32_t *id)
{
	uint32_t slot;

	if (!pool_find(p, s, n, pool_hash(s, n), &slot))
		return KT_ERR_NOTFOUND;
	*id = p->slots[slot] - 1;
	return KT_OK;
}

int ktm_pool_intern(struct ktm_pool *p, const char *s, size_t n, uint32_t *id,
		    int *added)
{
	uint32_t h = pool_hash(s, n), slot;

	if (added != NULL)
		*added = 0;
	if (pool_find(p, s, n, h, &slot)) {
		*id = p->slots[slot] - 1;
		return KT_OK;
	}
	/* Offsets are 32-bit: 4 GiB of distinct text is far beyond the
	 * memory budget anyway. */
	if (p->len + n + 1 > UINT32_MAX || p->count >= UINT32_MAX - 2)
		return KT_ERR_LIMIT;
	if (p->len + n + 1 > p->cap) {
		size_t ncap = p->cap * 2;
		char *na;

		while (ncap < p->len + n + 1)
			ncap *= 2;
		na = realloc(p->arena, ncap);
		if (na == NULL)
			return KT_ERR_NOMEM;
		p->arena = na;
		p->cap = ncap;
	}
	if (p->count + 2 > p->offcap) {
		uint32_t ncap = p->offcap * 2;
		uint32_t *no = realloc(p->off, (size_t)ncap * sizeof(*no));
		uint32_t *nh;

		if (no == NULL)
			return KT_ERR_NOMEM;
		p->off = no;
		nh = realloc(p->hash, (size_t)ncap * sizeof(*nh));
		if (nh == NULL)
			return KT_ERR_NOMEM;
		p->hash = nh;
		p->offcap = ncap;
	}
	memcpy(p->arena + p->len, s, n);
	p->arena[p->len + n] = '\0';
	p->len += n + 1;
	p->hash[p->count] = h;
	p->slots[slot] = p->count + 1;
	*id = p->count++;
	p->off[p->count] = (uint32_t)p->len;
	if (added != NULL)
		*added = 1;
	/* Keep the load under 1/2: probes stay short. */
	if ((uint64_t)p->count * 2 > p->mask)
		return pool_grow_slots(p);
	return KT_OK;
}

/* ---- table ------------------------------------------------------------ */

int kt_match_table_new(const struct kt_match_profile *p,
		       struct kt_match_table **out)
{
	struct kt_match_table *t = NULL;
	uint32_t empty;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return KT_ERR_NOMEM;
	t->p = p;
	t->nf = p->nfields;
	if (ktm_pool_init(&t->ids) != KT_OK ||
	    ktm_pool_init(&t->vals) != KT_OK ||
	    ktm_pool_intern(&t->vals, "", 0, &empty, NULL) != KT_OK) {
		kt_match_table_free(t);
		return KT_ERR_NOMEM;
	}
	*out = t; /* value id 0 is "": a missing cell */
	return KT_OK;
}

void kt_match_table_free(struct kt_match_table *t)
{
	if (t == NULL)
		return;
	ktm_pool_cleanup(&t->ids);
	ktm_pool_cleanup(&t->vals);
	free(t->cells);
	free(t->valid);
	free(t);
}

static int id_ok(const char *id, size_t n)
{
	if (n == 0 || n > KT_MATCH_ID_MAX || !kt_utf8_valid(id, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return 0;
	return 1;
}

/* One record from byte ranges; messages without a location prefix. */
static int table_add(struct kt_match_table *t, const char *id, size_t idlen,
		     const char *const *vals, const size_t *lens,
		     const int *valid, struct kt_error *err)
{
	uint32_t rid, vid[KT_MATCH_MAX_FIELDS];
	int added, r;

	if (!id_ok(id, idlen))
		return kt_error_set(
		    err, KT_ERR_INVALID,
		    "id: must be 1 to %d bytes of UTF-8 without "
		    "control characters",
		    KT_MATCH_ID_MAX);
	if (t->n >= KT_MATCH_MAX_RECORDS)
		return kt_error_set(err, KT_ERR_LIMIT, "more than %u records",
				    KT_MATCH_MAX_RECORDS);
	for (unsigned f = 0; f < t->nf; f++) {
		if (lens[f] > KT_MATCH_VALUE_MAX)
			return kt_error_set(err, KT_ERR_LIMIT,
					    "field '%s': longer than %d bytes",
					    t->p->fields[f].name,
					    KT_MATCH_VALUE_MAX);
		if (!kt_utf8_valid(vals[f], lens[f]) ||
		    memchr(vals[f], '\0', lens[f]) != NULL)
			return kt_error_set(err, KT_ERR_INVALID,
					    "field '%s': not valid UTF-8",
					    t->p->fields[f].name);
	}
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 1024;
		uint32_t *nc;
		uint8_t *nv;

		if (ncap > KT_MATCH_MAX_RECORDS + 1)
			ncap = KT_MATCH_MAX_RECORDS + 1;
		nc = realloc(t->cells, (size_t)ncap * t->nf * sizeof(*nc));
		if (nc == NULL)
			return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		t->cells = nc;
		nv = realloc(t->valid, (size_t)ncap * t->nf);
		if (nv == NULL)
			return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		t->valid = nv;
		t->cap = ncap;
	}
	/* Values first: a failure then leaves no half-added record behind
	 * (record i must stay id i in the id pool). */
	for (unsigned f = 0; f < t->nf; f++) {
		vid[f] = 0;
		if (lens[f] == 0)
			continue;
		r = ktm_pool_intern(&t->vals, vals[f], lens[f], &vid[f], NULL);
		if (r != KT_OK)
			return kt_error_set(err, r, "field '%s': %s",
					    t->p->fields[f].name,
					    kt_strerror(r));
	}
	r = ktm_pool_intern(&t->ids, id, idlen, &rid, &added);
	if (r != KT_OK)
		return kt_error_set(err, r, "id: %s", kt_strerror(r));
	if (!added)
		return kt_error_set(err, KT_ERR_CONFLICT, "duplicate id '%.*s'",
				    (int)idlen, id);
	for (unsigned f = 0; f < t->nf; f++) {
		size_t c = (size_t)t->n * t->nf + f;

		t->cells[c] = vid[f];
		t->valid[c] = vid[f] != 0 && (valid == NULL || valid[f] != 0);
	}
	t->n++;
	return KT_OK;
}

int kt_match_table_add(struct kt_match_table *t, const char *id,
		       const char *const *values, const int *valid,
		       struct kt_error *err)
{
	const char *vals[KT_MATCH_MAX_FIELDS];
	size_t lens[KT_MATCH_MAX_FIELDS];

	if (id == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "id: required");
	for (unsigned f = 0; f < t->nf; f++) {
		vals[f] = values[f] != NULL ? values[f] : "";
		lens[f] = strnlen(vals[f], KT_MATCH_VALUE_MAX + 1);
	}
	return table_add(t, id, strnlen(id, KT_MATCH_ID_MAX + 1), vals, lens,
			 valid, err);
}

size_t kt_match_table_size(const struct kt_match_table *t)
{
	return t->n;
}

const struct kt_match_profile *
kt_match_table_profile(const struct kt_match_table *t)
{
	return t->p;
}

const char *kt_match_table_id(const struct kt_match_table *t, uint32_t rec)
{
	return rec < t->n ? ktm_pool_str(&t->ids, rec) : NULL;
}

int kt_match_table_find(const struct kt_match_table *t, const char *id,
			uint32_t *rec)
{
	return ktm_pool_lookup(&t->ids, id, strlen(id), rec);
}

const char *kt_match_table_value(const struct kt_match_table *t, uint32_t rec,
				 unsigned f)
{
	if (rec >= t->n || f >= t->nf)
		return "";
	return ktm_pool_str(&t->vals, ktm_cell(t, rec, f));
}

int kt_match_table_valid(const struct kt_match_table *t, uint32_t rec,
			 unsigned f)
{
	return rec < t->n && f < t->nf && ktm_valid(t, rec, f);
}

/* ---- line reader ------------------------------------------------------ */

#define LINE_MAX_BYTES (1024 * 1024)
#define CHUNK_BYTES (4 * 1024 * 1024)

struct lines {
	FILE *f;
	const char *path;
	char *buf;
	size_t start, end, lineno;
	int eof;
};

static int lines_open(struct lines *L, const char *path, struct kt_error *err)
{
	memset(L, 0, sizeof(*L));
	L->path = path;
	L->f = fopen(path, "rb");
	if (L->f == NULL)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	L->buf = malloc(LINE_MAX_BYTES + CHUNK_BYTES + 1);
	if (L->buf == NULL) {
		fclose(L->f);
		L->f = NULL;
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	return KT_OK;
}

static void lines_close(struct lines *L)
{
	if (L->f != NULL)
		fclose(L->f);
	free(L->buf);
	L->f = NULL;
	L->buf = NULL;
}

/*
 * Next line, NUL-terminated in place without its "\n" or "\r\n": 1, or 0 at
 * the end, or a negative code. Lines are bounded so that a file without
 * newlines cannot make us buffer it whole.
 */
static int lines_next(struct lines *L, char **line, size_t *len,
		      struct kt_error *err)
{
	for (;;) {
		char *nl = memchr(L->buf + L->start, '\n', L->end - L->start);
		size_t n;

		if (nl == NULL && !L->eof &&
		    L->end - L->start <= LINE_MAX_BYTES) {
			size_t got;

			memmove(L->buf, L->buf + L->start, L->end - L->start);
			L->end -= L->start;
			L->start = 0;
			got = fread(L->buf + L->end, 1, CHUNK_BYTES, L->f);
			if (got == 0) {
				if (ferror(L->f))
					return kt_error_set(err, KT_ERR_IO,
							    "%s: read error",
							    L->path);
				L->eof = 1;
			}
			L->end += got;
			continue;
		}
		if (nl == NULL && L->start == L->end)
			return 0;
		n = nl != NULL ? (size_t)(nl - (L->buf + L->start))
			       : L->end - L->start;
		L->lineno++;
		if (n > LINE_MAX_BYTES)
			return kt_error_set(err, KT_ERR_LIMIT,
					    "%s:%zu: line longer than %d bytes",
					    L->path, L->lineno, LINE_MAX_BYTES);
		*line = L->buf + L->start;
		L->start += n + (nl != NULL);
		if (n > 0 && (*line)[n - 1] == '\r')
			n--;
		(*line)[n] = '\0';
		if (memchr(*line, '\0', n) != NULL)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%zu: NUL byte", L->path,
					    L->lineno);
		if (L->lineno == 1 && n >= 3 &&
		    memcmp(*line, "\xef\xbb\xbf", 3) == 0) {
			*line += 3; /* byte order mark */
			n -= 3;
		}
		*len = n;
		return 1;
	}
}

/* ---- TSV ---------------------------------------------------------- */

#define COL_IGNORE -1
#define COL_ID -2
#define COL_VALID_BASE 1000 /* COL_VALID_BASE + f: "<field>.valid" */

/* Undo the TSV escapes in place; -1 on an unknown escape. */
static int tsv_unescape(char *s, size_t *n)
{
	size_t i, k = 0;

	for (i = 0; i < *n; i++) {
		if (s[i] != '\\') {
			s[k++] = s[i];
			continue;
		}
		if (++i == *n)
			return -1;
		switch (s[i]) {
		case 't':
			s[k++] = '\t';
			break;
		case 'n':
			s[k++] = '\n';
			break;
		case 'r':
			s[k++] = '\r';
			break;
		case '\\':
			s[k++] = '\\';
			break;
		default:
			return -1;
		}
	}
	*n = k;
	s[k] = '\0';
	return 0;
}

/* 1 valid, 0 invalid, -1 unset, -2 malformed. */
static int parse_flag(const char *s, size_t n)
{
	if (n == 0)
		return -1;
	if ((n == 1 && s[0] == '1') || (n == 4 && memcmp(s, "true", 4) == 0))
		return 1;
	if ((n == 1 && s[0] == '0') || (n == 5 && memcmp(s, "false", 5) == 0))
		return 0;
	return -2;
}

static int tsv_header(struct kt_match_table *t, char *line, size_t len,
		      int *map, size_t *ncols, const char *path,
		      struct kt_error *err)
{
	int seen[KT_MATCH_MAX_FIELDS] = {0}, have_id = 0;
	size_t c = 0;
	char *s = line, *end = line + len;

	for (;;) {
		char *tab = memchr(s, '\t', (size_t)(end - s));
		size_t n = tab != NULL ? (size_t)(tab - s) : (size_t)(end - s);
		int f;

		if (c >= 256)
			return kt_error_set(err, KT_ERR_LIMIT,
					    "%s:1: more than 256 columns",
					    path);
		s[n] = '\0';
		map[c] = COL_IGNORE;
		if (strcmp(s, "id") == 0) {
			if (have_id++)
				return kt_error_set(err, KT_ERR_INVALID,
						    "%s:1: column 'id' twice",
						    path);
			map[c] = COL_ID;
		} else if ((f = kt_match_profile_field_index(t->p, s)) >= 0) {
			if (seen[f] & 1)
				return kt_error_set(err, KT_ERR_INVALID,
						    "%s:1: column '%s' twice",
						    path, s);
			seen[f] |= 1;
			map[c] = f;
		} else if (n > 6 && strcmp(s + n - 6, ".valid") == 0) {
			s[n - 6] = '\0';
			f = kt_match_profile_field_index(t->p, s);
			if (f >= 0) {
				if (seen[f] & 2)
					return kt_error_set(
					    err, KT_ERR_INVALID,
					    "%s:1: column '%s.valid' twice",
					    path, s);
				seen[f] |= 2;
				map[c] = COL_VALID_BASE + f;
			}
		}
		c++;
		if (tab == NULL)
			break;
		s = tab + 1;
	}
	if (!have_id)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s:1: header has no 'id' column", path);
	for (unsigned f = 0; f < t->nf; f++)
		if (!(seen[f] & 1))
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:1: header has no column for "
					    "field '%s'",
					    path, t->p->fields[f].name);
	*ncols = c;
	return KT_OK;
}

static int read_tsv(struct kt_match_table *t, struct lines *L,
		    struct kt_error *err)
{
	int map[256];
	size_t ncols = 0, len;
	char *line;
	int r;

	r = lines_next(L, &line, &len, err);
	if (r <= 0)
		return r < 0 ? r
			     : kt_error_set(err, KT_ERR_INVALID,
					    "%s: empty file (no header)",
					    L->path);
	if ((r = tsv_header(t, line, len, map, &ncols, L->path, err)) != KT_OK)
		return r;
	while ((r = lines_next(L, &line, &len, err)) == 1) {
		const char *vals[KT_MATCH_MAX_FIELDS];
		size_t lens[KT_MATCH_MAX_FIELDS];
		int valid[KT_MATCH_MAX_FIELDS], flag[KT_MATCH_MAX_FIELDS];
		const char *id = NULL;
		size_t idlen = 0, c = 0;
		char *s = line, *end = line + len;
		struct kt_error e;

		if (len == 0)
			continue;
		for (unsigned f = 0; f < t->nf; f++)
			flag[f] = -1;
		for (;;) {
			char *tab = memchr(s, '\t', (size_t)(end - s));
			size_t n =
			    tab != NULL ? (size_t)(tab - s) : (size_t)(end - s);

			if (c >= ncols)
				return kt_error_set(err, KT_ERR_INVALID,
						    "%s:%zu: more than the "
						    "header's %zu columns",
						    L->path, L->lineno, ncols);
			if (map[c] != COL_IGNORE && tsv_unescape(s, &n) != 0)
				return kt_error_set(err, KT_ERR_INVALID,
						    "%s:%zu: column %zu: "
						    "unknown escape (only \\t "
						    "\\n \\r \\\\)",
						    L->path, L->lineno, c + 1);
			if (map[c] == COL_ID) {
				id = s;
				idlen = n;
			} else if (map[c] >= COL_VALID_BASE) {
				int f = map[c] - COL_VALID_BASE;

				flag[f] = parse_flag(s, n);
				if (flag[f] == -2)
					return kt_error_set(
					    err, KT_ERR_INVALID,
					    "%s:%zu: column '%s.valid': must "
					    "be 1, 0, true, false or empty",
					    L->path, L->lineno,
					    t->p->fields[f].name);
			} else if (map[c] >= 0) {
				vals[map[c]] = s;
				lens[map[c]] = n;
			}
			c++;
			if (tab == NULL)
				break;
			s = tab + 1;
		}
		if (c != ncols)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%zu: %zu columns, the header "
					    "has %zu",
					    L->path, L->lineno, c, ncols);
		for (unsigned f = 0; f < t->nf; f++)
			valid[f] = flag[f] != 0;
		r = table_add(t, id, idlen, vals, lens, valid, &e);
		if (r != KT_OK)
			return kt_error_set(err, r, "%s:%zu: %s", L->path,
					    L->lineno, e.msg);
	}
	return r;
}

/* ---- JSON Lines ------------------------------------------------------ */

static int jsonl_row(struct kt_match_table *t, json_t *o, struct lines *L,
		     struct kt_error *err)
{
	const char *vals[KT_MATCH_MAX_FIELDS];
	size_t lens[KT_MATCH_MAX_FIELDS];
	int valid[KT_MATCH_MAX_FIELDS];
	json_t *id = json_object_get(o, "id");
	struct kt_error e;
	int r;

	if (!json_is_string(id))
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s:%zu: .id: required, a string", L->path,
				    L->lineno);
	for (unsigned f = 0; f < t->nf; f++) {
		const char *name = t->p->fields[f].name;
		char vkey[KTM_NAME_MAX + 8];
		json_t *v = json_object_get(o, name), *fl;

		vals[f] = "";
		lens[f] = 0;
		if (v != NULL && json_is_string(v)) {
			vals[f] = json_string_value(v);
			lens[f] = json_string_length(v);
		} else if (v != NULL && !json_is_null(v)) {
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%zu: .%s: must be a string or "
					    "null",
					    L->path, L->lineno, name);
		}
		snprintf(vkey, sizeof(vkey), "%s.valid", name);
		fl = json_object_get(o, vkey);
		if (fl != NULL && !json_is_boolean(fl) && !json_is_null(fl))
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%zu: .%s: must be true, false "
					    "or null",
					    L->path, L->lineno, vkey);
		valid[f] = !json_is_false(fl);
	}
	r = table_add(t, json_string_value(id), json_string_length(id), vals,
		      lens, valid, &e);
	if (r != KT_OK)
		return kt_error_set(err, r, "%s:%zu: %s", L->path, L->lineno,
				    e.msg);
	return KT_OK;
}

static int read_jsonl(struct kt_match_table *t, struct lines *L,
		      struct kt_error *err)
{
	size_t len;
	char *line;
	int r;

	while ((r = lines_next(L, &line, &len, err)) == 1) {
		json_error_t jerr;
		json_t *o;

		if (len == 0)
			continue;
		o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (o == NULL)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%zu: column %d: %s", L->path,
					    L->lineno, jerr.column, jerr.text);
		if (!json_is_object(o)) {
			json_decref(o);
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%zu: not a JSON object",
					    L->path, L->lineno);
		}
		r = jsonl_row(t, o, L, err);
		json_decref(o);
		if (r != KT_OK)
			return r;
	}
	return r;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int kt_match_table_read_file(struct kt_match_table *t, const char *path,
			     enum kt_match_format fmt, struct kt_error *err)
{
	struct lines L;
	int r;

	if (fmt == KT_MATCH_FORMAT_AUTO)
		fmt = ends_with(path, ".jsonl") || ends_with(path, ".ndjson")
			  ? KT_MATCH_FORMAT_JSONL
			  : KT_MATCH_FORMAT_TSV;
	if ((r = lines_open(&L, path, err)) != KT_OK)
		return r;
	r = fmt == KT_MATCH_FORMAT_JSONL ? read_jsonl(t, &L, err)
					 : read_tsv(t, &L, err);
	lines_close(&L);
	return r;
}

static void tsv_put(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\t':
			fputs("\\t", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		default:
			putc(*s, out);
		}
	}
}

int kt_match_table_write_tsv(const struct kt_match_table *t, FILE *out)
{
	fputs("id", out);
	for (unsigned f = 0; f < t->nf; f++)
		fprintf(out, "\t%s", t->p->fields[f].name);
	for (unsigned f = 0; f < t->nf; f++)
		fprintf(out, "\t%s.valid", t->p->fields[f].name);
	putc('\n', out);
	for (uint32_t r = 0; r < t->n; r++) {
		tsv_put(out, ktm_pool_str(&t->ids, r));
		for (unsigned f = 0; f < t->nf; f++) {
			putc('\t', out);
			tsv_put(out, kt_match_table_value(t, r, f));
		}
		for (unsigned f = 0; f < t->nf; f++)
			fputs(ktm_cell(t, r, f) == 0 ? "\t"
			      : ktm_valid(t, r, f)   ? "\t1"
						     : "\t0",
			      out);
		putc('\n', out);
	}
	return ferror(out) ? KT_ERR_IO : KT_OK;
}

/* ---- labels ----------------------------------------------------------- */

struct kt_match_labels {
	struct ktm_pool ids, names;
	uint32_t *label; /* per id: label name id */
	size_t n, cap;
};

void kt_match_labels_free(struct kt_match_labels *l)
{
	if (l == NULL)
		return;
	ktm_pool_cleanup(&l->ids);
	ktm_pool_cleanup(&l->names);
	free(l->label);
	free(l);
}

size_t kt_match_labels_size(const struct kt_match_labels *l)
{
	return l->n;
}

/*
 * Split one CSV/TSV line into at most 2 fields (more are ignored), in
 * place, with RFC 4180 quotes. Returns the number of fields, or -1 on a
 * malformed quote.
 */
static int split2(char *s, size_t n, char delim, char **f, size_t *flen)
{
	size_t i = 0;
	int nf = 0;

	for (;;) {
		char *o;
		size_t k = 0;

		if (nf < 2) {
			f[nf] = s + i;
			o = s + i;
		} else {
			o = NULL;
		}
		if (i < n && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return -1;
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						if (o)
							o[k++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				if (o)
					o[k++] = s[i];
				i++;
			}
			if (i < n && s[i] != delim)
				return -1;
		} else {
			while (i < n && s[i] != delim) {
				if (s[i] == '"')
					return -1;
				if (o)
					o[k++] = s[i];
				i++;
			}
		}
		if (nf < 2)
			flen[nf] = k;
		nf++;
		if (i >= n)
			return nf;
		i++; /* the delimiter */
	}
}

int kt_match_labels_read(const char *path, struct kt_match_labels **out,
			 struct kt_error *err)
{
	struct kt_match_labels *l = NULL;
	struct lines L;
	char delim;
	size_t len;
	char *line;
	int r;

	*out = NULL;
	if ((r = lines_open(&L, path, err)) != KT_OK)
		return r;
	l = calloc(1, sizeof(*l));
	if (l == NULL || ktm_pool_init(&l->ids) != KT_OK ||
	    ktm_pool_init(&l->names) != KT_OK) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	r = lines_next(&L, &line, &len, err);
	if (r <= 0) {
		if (r == 0)
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: empty file (no header)", path);
		goto cleanup;
	}
	delim = memchr(line, '\t', len) != NULL ? '\t' : ',';
	while ((r = lines_next(&L, &line, &len, err)) == 1) {
		char *f[2];
		size_t flen[2];
		uint32_t id, name;
		int added, nf;

		if (len == 0)
			continue;
		nf = split2(line, len, delim, f, flen);
		if (nf < 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%zu: malformed quotes", path,
					 L.lineno);
			goto cleanup;
		}
		if (nf < 2 || !id_ok(f[0], flen[0]) || flen[1] == 0 ||
		    flen[1] > KT_MATCH_ID_MAX ||
		    !kt_utf8_valid(f[1], flen[1])) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s:%zu: expected an id and a label "
					 "(1 to %d bytes of UTF-8 each)",
					 path, L.lineno, KT_MATCH_ID_MAX);
			goto cleanup;
		}
		if ((r = ktm_pool_intern(&l->ids, f[0], flen[0], &id,
					 &added)) != KT_OK ||
		    (r = ktm_pool_intern(&l->names, f[1], flen[1], &name,
					 NULL)) != KT_OK) {
			r = kt_error_set(err, r, "%s: %s", path,
					 kt_strerror(r));
			goto cleanup;
		}
		if (!added) {
			r = kt_error_set(err, KT_ERR_CONFLICT,
					 "%s:%zu: duplicate id '%.*s'", path,
					 L.lineno, (int)flen[0], f[0]);
			goto cleanup;
		}
		if (l->n == l->cap) {
			size_t ncap = l->cap ? l->cap * 2 : 1024;
			uint32_t *nl = realloc(l->label, ncap * sizeof(*nl));

			if (nl == NULL) {
				r = kt_error_set(err, KT_ERR_NOMEM,
						 "out of memory");
				goto cleanup;
			}
			l->label = nl;
			l->cap = ncap;
		}
		l->label[l->n++] = name;
	}
	if (r < 0)
		goto cleanup;
	*out = l;
	l = NULL;
	r = KT_OK;
cleanup:
	kt_match_labels_free(l);
	lines_close(&L);
	return r;
}

int kt_match_labels_for_table(const struct kt_match_labels *l,
			      const struct kt_match_table *t, uint32_t **out,
			      size_t *unknown)
{
	uint32_t *lab = malloc(((size_t)t->n + 1) * sizeof(*lab));

	*out = NULL;
	*unknown = 0;
	if (lab == NULL)
		return KT_ERR_NOMEM;
	for (uint32_t r = 0; r < t->n; r++)
		lab[r] = KT_MATCH_NONE;
	for (size_t i = 0; i < l->n; i++) {
		uint32_t rec;

		if (ktm_pool_lookup(&t->ids, ktm_pool_str(&l->ids, (uint32_t)i),
				    ktm_pool_len(&l->ids, (uint32_t)i),
				    &rec) == KT_OK)
			lab[rec] = l->label[i];
		else
			(*unknown)++;
	}
	*out = lab;
	return KT_OK;
}

int kt_match_eval_files(const char *truth_path, const char *pred_path,
			struct kt_match_eval *out, size_t *only_truth,
			size_t *only_pred, struct kt_error *err)
{
	struct kt_match_labels *truth = NULL, *pred = NULL;
	uint32_t *a = NULL, *b = NULL;
	size_t n = 0, ot = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = kt_match_labels_read(truth_path, &truth, err)) != KT_OK ||
	    (r = kt_match_labels_read(pred_path, &pred, err)) != KT_OK)
		goto cleanup;
	a = malloc((truth->n + 1) * sizeof(*a));
	b = malloc((truth->n + 1) * sizeof(*b));
	if (a == NULL || b == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < truth->n; i++) {
		uint32_t j;

		if (ktm_pool_lookup(
			&pred->ids, ktm_pool_str(&truth->ids, (uint32_t)i),
			ktm_pool_len(&truth->ids, (uint32_t)i), &j) != KT_OK) {
			ot++;
			continue;
		}
		a[n] = pred->label[j];
		b[n] = truth->label[i];
		n++;
	}
	if (n == 0) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "%s and %s have no record id in common",
				 truth_path, pred_path);
		goto cleanup;
	}
	if (only_truth != NULL)
		*only_truth = ot;
	if (only_pred != NULL)
		*only_pred = pred->n - n;
	r = kt_match_eval_labels(a, b, n, out);
	if (r != KT_OK)
		kt_error_set(err, r, "evaluation: %s", kt_strerror(r));
cleanup:
	free(a);
	free(b);
	kt_match_labels_free(truth);
	kt_match_labels_free(pred);
	return r;
}
