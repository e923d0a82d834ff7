#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kontor/csv.h"
#include "kontor/err.h"
#include "kontor/util.h"

#define CHUNK (64 * 1024)

/* ---- encodings ----------------------------------------------------------- */

/* Windows-1252 0x80..0x9F; 0 = undefined. The rest equals ISO-8859-1. */
static const uint16_t cp1252_high[32] = {
    0x20ac, 0,	    0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,	    0x017d, 0,
    0,	    0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,	    0x017e, 0x0178,
};

int kt_csv_encoding_parse(const char *name, enum kt_csv_encoding *out)
{
	static const struct {
		const char *name;
		enum kt_csv_encoding enc;
	} names[] = {
	    {"utf-8", KT_CSV_UTF8},
	    {"utf8", KT_CSV_UTF8},
	    {"windows-1252", KT_CSV_WINDOWS_1252},
	    {"cp1252", KT_CSV_WINDOWS_1252},
	    {"iso-8859-1", KT_CSV_ISO_8859_1},
	    {"latin1", KT_CSV_ISO_8859_1},
	    {"latin-1", KT_CSV_ISO_8859_1},
	};

	*out = KT_CSV_UTF8;
	if (name == NULL)
		return KT_ERR_INVALID;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].enc;
			return KT_OK;
		}
	return KT_ERR_INVALID;
}

const char *kt_csv_encoding_name(enum kt_csv_encoding enc)
{
	switch (enc) {
	case KT_CSV_WINDOWS_1252:
		return "windows-1252";
	case KT_CSV_ISO_8859_1:
		return "iso-8859-1";
	default:
		return "utf-8";
	}
}

/* Append the UTF-8 form of one single-byte character; 0 if undefined. */
static size_t conv_byte(enum kt_csv_encoding enc, unsigned char b, char *o)
{
	uint32_t cp = b;

	if (b < 0x80) {
		o[0] = (char)b;
		return 1;
	}
	if (enc == KT_CSV_WINDOWS_1252 && b < 0xa0) {
		cp = cp1252_high[b - 0x80];
		if (cp == 0)
			return 0;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	o[0] = (char)(0xe0 | (cp >> 12));
	o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

int kt_csv_to_utf8(enum kt_csv_encoding enc, const char *in, size_t n,
		   char *out, size_t *outlen, size_t *bad)
{
	size_t w = 0;

	*outlen = 0;
	out[0] = '\0';
	if (enc == KT_CSV_UTF8) {
		if (!kt_utf8_valid(in, n)) {
			if (bad)
				*bad = 0;
			return KT_ERR_INVALID;
		}
		memcpy(out, in, n);
		out[n] = '\0';
		*outlen = n;
		return KT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = conv_byte(enc, (unsigned char)in[i], out + w);
		if (k == 0) {
			out[w] = '\0';
			if (bad)
				*bad = i;
			return KT_ERR_INVALID;
		}
		w += k;
	}
	out[w] = '\0';
	*outlen = w;
	return KT_OK;
}

/* ---- reader -------------------------------------------------------------- */

enum cstate {
	S_FIELD_START,
	S_UNQUOTED,
	S_QUOTED,
	S_QUOTE_SEEN, /* a quote inside a quoted field: end or escape */
};

struct kt_csv {
	char *name;
	struct kt_csv_opts o;
	int fd;
	const unsigned char *mem; /* memory source, or NULL */
	size_t memlen, mempos;
	unsigned char *in; /* read buffer (file source) */
	size_t inlen, inpos;
	uint64_t consumed;
	int eof, started, bom, skip_lf;
	int err_code;
	struct kt_error err;

	uint64_t line; /* current line (1-based) */

	/* the record being built: converted bytes, NUL after each field */
	char *buf;
	size_t blen, bcap;
	size_t *fstart;
	size_t nf, fcap;
	size_t raw_field, raw_record;
	int field_quoted;

	char **fields;
	size_t *lens;
	size_t rcap;
};

void kt_csv_opts_default(struct kt_csv_opts *o)
{
	o->delimiter = ',';
	o->quote = '"';
	o->encoding = KT_CSV_UTF8;
	o->max_field = KT_CSV_DEFAULT_MAX_FIELD;
	o->max_fields = KT_CSV_DEFAULT_MAX_FIELDS;
	o->max_record = KT_CSV_DEFAULT_MAX_RECORD;
}

static int csv_new(const char *name, const struct kt_csv_opts *o,
		   struct kt_csv **out, struct kt_error *err)
{
	struct kt_csv *c;
	struct kt_csv_opts def;

	*out = NULL;
	if (o == NULL) {
		kt_csv_opts_default(&def);
		o = &def;
	}
	if (o->delimiter == '\0' || o->delimiter == '\n' ||
	    o->delimiter == '\r' || (unsigned char)o->delimiter >= 0x80 ||
	    o->delimiter == o->quote)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: unusable delimiter", name);
	if (o->quote == '\n' || o->quote == '\r' ||
	    (unsigned char)o->quote >= 0x80)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: unusable quote character", name);
	if (o->max_field == 0 || o->max_fields == 0 || o->max_record == 0)
		return kt_error_set(err, KT_ERR_INVALID, "%s: zero limit",
				    name);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->name = strdup(name)) == NULL) {
		free(c);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	c->o = *o;
	c->fd = -1;
	c->line = 1;
	*out = c;
	return KT_OK;
}

int kt_csv_open(const char *path, const struct kt_csv_opts *o,
		struct kt_csv **out, struct kt_error *err)
{
	struct kt_csv *c = NULL;
	int r;

	if ((r = csv_new(path, o, &c, err)) != KT_OK)
		return r;
	if ((c->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				 strerror(errno));
		kt_csv_free(c);
		return r;
	}
	if ((c->in = malloc(CHUNK)) == NULL) {
		kt_csv_free(c);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	*out = c;
	return KT_OK;
}

int kt_csv_open_mem(const char *name, const void *data, size_t len,
		    const struct kt_csv_opts *o, struct kt_csv **out,
		    struct kt_error *err)
{
	struct kt_csv *c = NULL;
	int r;

	if ((r = csv_new(name, o, &c, err)) != KT_OK)
		return r;
	c->mem = data;
	c->memlen = len;
	*out = c;
	return KT_OK;
}

void kt_csv_free(struct kt_csv *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->buf);
	free(c->fstart);
	free(c->fields);
	free(c->lens);
	free(c->name);
	free(c);
}

uint64_t kt_csv_bytes_read(const struct kt_csv *c)
{
	return c->consumed;
}

int kt_csv_had_bom(const struct kt_csv *c)
{
	return c->bom;
}

enum kt_csv_encoding kt_csv_encoding(const struct kt_csv *c)
{
	return c->o.encoding;
}

static int fail(struct kt_csv *c, struct kt_error *err, int code, uint64_t line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Remember the first fatal error: every later call repeats it. */
static int fail(struct kt_csv *c, struct kt_error *err, int code, uint64_t line,
		const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->err_code = code;
	kt_error_set(&c->err, code, "%s:%llu: %s", c->name,
		     (unsigned long long)line, msg);
	if (err)
		*err = c->err;
	return code;
}

/* Refill the input window; 0 and c->eof at the end. */
static int fill(struct kt_csv *c, struct kt_error *err)
{
	if (c->mem != NULL) {
		c->eof = 1;
		return KT_OK;
	}
	for (;;) {
		ssize_t n = read(c->fd, c->in, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(c, err, KT_ERR_IO, c->line, "%s",
				    strerror(errno));
		c->inlen = (size_t)n;
		c->inpos = 0;
		if (n == 0)
			c->eof = 1;
		return KT_OK;
	}
}

static int buf_reserve(struct kt_csv *c, size_t more, struct kt_error *err)
{
	size_t need = c->blen + more + 1, cap;
	char *nb;

	if (need <= c->bcap)
		return KT_OK;
	cap = c->bcap ? c->bcap : 4096;
	while (cap < need)
		cap *= 2;
	if ((nb = realloc(c->buf, cap)) == NULL)
		return fail(c, err, KT_ERR_NOMEM, c->line, "out of memory");
	c->buf = nb;
	c->bcap = cap;
	return KT_OK;
}

static int field_begin(struct kt_csv *c, uint64_t rec_line,
		       struct kt_error *err)
{
	if (c->nf >= c->o.max_fields)
		return fail(c, err, KT_ERR_LIMIT, rec_line,
			    "more than %zu fields", c->o.max_fields);
	/* the delimiter before a field counts towards the record size */
	if (++c->raw_record > c->o.max_record)
		return fail(c, err, KT_ERR_LIMIT, rec_line,
			    "record longer than %zu bytes", c->o.max_record);
	{
		size_t *ns = kt_grow(c->fstart, &c->fcap, c->nf, sizeof(*ns), 32);
		if (ns == NULL)
			return fail(c, err, KT_ERR_NOMEM, rec_line,
				    "out of memory");
		c->fstart = ns;
	}
	c->fstart[c->nf++] = c->blen;
	c->raw_field = 0;
	c->field_quoted = 0;
	return KT_OK;
}

/* One raw byte of field content. */
static int field_byte(struct kt_csv *c, unsigned char b, uint64_t rec_line,
		      struct kt_error *err)
{
	size_t k;
	int r;

	if (b == 0)
		return fail(c, err, KT_ERR_INVALID, c->line,
			    "NUL byte in field %zu", c->nf);
	if (++c->raw_field > c->o.max_field)
		return fail(c, err, KT_ERR_LIMIT, rec_line,
			    "field %zu longer than %zu bytes", c->nf,
			    c->o.max_field);
	if (++c->raw_record > c->o.max_record)
		return fail(c, err, KT_ERR_LIMIT, rec_line,
			    "record longer than %zu bytes", c->o.max_record);
	if ((r = buf_reserve(c, 3, err)) != KT_OK)
		return r;
	if (c->o.encoding == KT_CSV_UTF8 || b < 0x80) {
		c->buf[c->blen++] = (char)b;
		return KT_OK;
	}
	k = conv_byte(c->o.encoding, b, c->buf + c->blen);
	if (k == 0)
		return fail(c, err, KT_ERR_INVALID, c->line,
			    "byte 0x%02X in field %zu is not defined in "
			    "Windows-1252",
			    b, c->nf);
	c->blen += k;
	return KT_OK;
}

/*
 * A run of ordinary bytes (no delimiter, quote, line break or NUL): the
 * common case, appended with one limit check and one copy.
 */
static int field_run(struct kt_csv *c, const unsigned char *s, size_t n,
		     uint64_t rec_line, struct kt_error *err)
{
	int r;

	if (c->raw_field + n > c->o.max_field)
		return fail(c, err, KT_ERR_LIMIT, rec_line,
			    "field %zu longer than %zu bytes", c->nf,
			    c->o.max_field);
	if (c->raw_record + n > c->o.max_record)
		return fail(c, err, KT_ERR_LIMIT, rec_line,
			    "record longer than %zu bytes", c->o.max_record);
	c->raw_field += n;
	c->raw_record += n;
	if ((r = buf_reserve(c, 3 * n, err)) != KT_OK)
		return r;
	if (c->o.encoding == KT_CSV_UTF8) {
		memcpy(c->buf + c->blen, s, n);
		c->blen += n;
		return KT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = conv_byte(c->o.encoding, s[i], c->buf + c->blen);
		if (k == 0)
			return fail(c, err, KT_ERR_INVALID, c->line,
				    "byte 0x%02X in field %zu is not defined "
				    "in Windows-1252",
				    s[i], c->nf);
		c->blen += k;
	}
	return KT_OK;
}

/* End of the run of ordinary bytes starting at i. */
static size_t run_end(const unsigned char *p, size_t i, size_t avail,
		      unsigned char stop1, unsigned char stop2)
{
	while (i < avail) {
		unsigned char b = p[i];
		if (b == stop1 || b == stop2 || b == '\n' || b == '\r' ||
		    b == 0)
			break;
		i++;
	}
	return i;
}

static int field_end(struct kt_csv *c, struct kt_error *err)
{
	size_t s = c->fstart[c->nf - 1];
	int r;

	if (c->o.encoding == KT_CSV_UTF8 &&
	    !kt_utf8_valid(c->buf + s, c->blen - s))
		return fail(c, err, KT_ERR_INVALID, c->line,
			    "invalid UTF-8 in field %zu (is the file "
			    "Windows-1252? set the encoding)",
			    c->nf);
	if ((r = buf_reserve(c, 1, err)) != KT_OK)
		return r;
	c->buf[c->blen++] = '\0';
	return KT_OK;
}

static int row_out(struct kt_csv *c, struct kt_csv_row *row, uint64_t line,
		   struct kt_error *err)
{
	if (c->nf > c->rcap) {
		char **nf = realloc(c->fields, c->nf * sizeof(*nf));
		size_t *nl;
		if (nf == NULL)
			return fail(c, err, KT_ERR_NOMEM, line,
				    "out of memory");
		c->fields = nf;
		if ((nl = realloc(c->lens, c->nf * sizeof(*nl))) == NULL)
			return fail(c, err, KT_ERR_NOMEM, line,
				    "out of memory");
		c->lens = nl;
		c->rcap = c->nf;
	}
	for (size_t i = 0; i < c->nf; i++) {
		size_t s = c->fstart[i];
		size_t e = (i + 1 < c->nf) ? c->fstart[i + 1] - 1 : c->blen - 1;
		c->fields[i] = c->buf + s;
		c->lens[i] = e - s;
	}
	row->n = c->nf;
	row->field = c->fields;
	row->len = c->lens;
	row->line = line;
	return 1;
}

/* Byte-order marks, once at the start. */
static int check_bom(struct kt_csv *c, struct kt_error *err)
{
	const unsigned char *p;
	size_t avail;

	if (c->mem) {
		p = c->mem + c->mempos;
		avail = c->memlen - c->mempos;
	} else {
		p = c->in + c->inpos;
		avail = c->inlen - c->inpos;
	}
	if (avail >= 2 &&
	    ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff)))
		return fail(c, err, KT_ERR_INVALID, 1,
			    "UTF-16 byte order mark: UTF-16 is not "
			    "supported, save the file as UTF-8");
	if (avail >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		c->bom = 1;
		/* The BOM says UTF-8 whatever the mapping claims. */
		c->o.encoding = KT_CSV_UTF8;
		if (c->mem)
			c->mempos += 3;
		else
			c->inpos += 3;
		c->consumed += 3;
	}
	return KT_OK;
}

/*
 * The state machine. S_FIELD_START means a field begins at the next byte
 * (after a record start or a delimiter); "any" tells a blank line from a
 * record that ends in a delimiter (an empty last field).
 */
int kt_csv_next(struct kt_csv *c, struct kt_csv_row *row, struct kt_error *err)
{
	enum cstate st = S_FIELD_START;
	uint64_t rec_line, quote_line = 0;
	const unsigned char delim = (unsigned char)c->o.delimiter;
	const unsigned char quote = (unsigned char)c->o.quote;
	int r, any = 0;

	if (c->err_code != KT_OK) {
		if (err)
			*err = c->err;
		return c->err_code;
	}
	c->blen = 0;
	c->nf = 0;
	c->raw_record = 0;
	rec_line = c->line;
	for (;;) {
		const unsigned char *p;
		size_t avail, i;

		if (c->mem) {
			p = c->mem + c->mempos;
			avail = c->memlen - c->mempos;
		} else {
			if (c->inpos >= c->inlen && !c->eof &&
			    (r = fill(c, err)) != KT_OK)
				return r;
			p = c->in + c->inpos;
			avail = c->inlen - c->inpos;
		}
		if (!c->started) {
			c->started = 1;
			if ((r = check_bom(c, err)) != KT_OK)
				return r;
			continue;
		}
		if (avail == 0) {
			if (!c->mem && !c->eof)
				continue;
			c->eof = 1;
			if (st == S_QUOTED)
				return fail(c, err, KT_ERR_INVALID, quote_line,
					    "unterminated quoted field");
			if (!any)
				return 0;
			if (st == S_FIELD_START &&
			    (r = field_begin(c, rec_line, err)) != KT_OK)
				return r;
			if ((r = field_end(c, err)) != KT_OK)
				return r;
			return row_out(c, row, rec_line, err);
		}
		for (i = 0; i < avail; i++) {
			unsigned char b = p[i];

			if (c->skip_lf) {
				c->skip_lf = 0;
				if (b == '\n')
					continue;
			}
			switch (st) {
			case S_FIELD_START:
				if (b == '\n' || b == '\r') {
					c->line++;
					c->skip_lf = (b == '\r');
					if (!any) {
						/* blank line: skip it */
						rec_line = c->line;
						continue;
					}
					/* "a,b," then the end of the line */
					if ((r = field_begin(c, rec_line,
							     err)) != KT_OK ||
					    (r = field_end(c, err)) != KT_OK)
						return r;
					goto record_done;
				}
				any = 1;
				if ((r = field_begin(c, rec_line, err)) !=
				    KT_OK)
					return r;
				if (b == delim) {
					if ((r = field_end(c, err)) != KT_OK)
						return r;
					continue;
				}
				if (quote && b == quote) {
					c->field_quoted = 1;
					quote_line = c->line;
					st = S_QUOTED;
					continue;
				}
				/* Neither delimiter, line end nor quote: the
				 * first byte of an unquoted field, read as
				 * such below. */
				st = S_UNQUOTED;
				/* fall through */
			case S_UNQUOTED:
				if (b == delim) {
					if ((r = field_end(c, err)) != KT_OK)
						return r;
					st = S_FIELD_START;
					continue;
				}
				if (b == '\n' || b == '\r') {
					if ((r = field_end(c, err)) != KT_OK)
						return r;
					c->line++;
					c->skip_lf = (b == '\r');
					goto record_done;
				}
				/* a quote here is literal: Müller "Bau" */
				if (b == 0) {
					if ((r = field_byte(c, b, rec_line,
							    err)) != KT_OK)
						return r;
					continue;
				}
				{
					size_t e = run_end(p, i + 1, avail,
							   delim, delim);
					if ((r = field_run(c, p + i, e - i,
							   rec_line, err)) !=
					    KT_OK)
						return r;
					i = e - 1;
				}
				continue;
			case S_QUOTED:
				if (b == quote) {
					st = S_QUOTE_SEEN;
					continue;
				}
				if (b == '\n')
					c->line++;
				if (b == '\n' || b == '\r' || b == 0) {
					if ((r = field_byte(c, b, rec_line,
							    err)) != KT_OK)
						return r;
					continue;
				}
				{
					size_t e = run_end(p, i + 1, avail,
							   quote, quote);
					if ((r = field_run(c, p + i, e - i,
							   rec_line, err)) !=
					    KT_OK)
						return r;
					i = e - 1;
				}
				continue;
			case S_QUOTE_SEEN:
				if (b == quote) {
					/* "" inside quotes: one quote */
					st = S_QUOTED;
					if ((r = field_byte(c, b, rec_line,
							    err)) != KT_OK)
						return r;
					continue;
				}
				if (b == delim) {
					if ((r = field_end(c, err)) != KT_OK)
						return r;
					st = S_FIELD_START;
					continue;
				}
				if (b == '\n' || b == '\r') {
					if ((r = field_end(c, err)) != KT_OK)
						return r;
					c->line++;
					c->skip_lf = (b == '\r');
					goto record_done;
				}
				return fail(c, err, KT_ERR_INVALID, c->line,
					    "field %zu: unexpected '%c' after "
					    "closing quote",
					    c->nf,
					    b >= 0x20 && b < 0x7f ? b : '?');
			}
			continue;
		record_done:
			i++;
			if (c->mem)
				c->mempos += i;
			else
				c->inpos += i;
			c->consumed += i;
			return row_out(c, row, rec_line, err);
		}
		if (c->mem)
			c->mempos += avail;
		else
			c->inpos += avail;
		c->consumed += avail;
	}
}

void kt_csv_put(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	putc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putc('"', out);
		putc(*s, out);
	}
	putc('"', out);
}
