#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kontor/err.h"
#include "kontor/jsonl.h"

#define CHUNK (64 * 1024)

struct kt_jsonl {
	char *name;
	int fd;
	const char *mem;
	size_t memlen, mempos;
	char *buf; /* window: [pos, len) unread */
	size_t cap, len, pos;
	size_t max_line;
	int eof, started;
	uint64_t line, consumed;
	int err_code;
	struct kt_error err;
};

static int jl_new(const char *name, size_t max_line, struct kt_jsonl **out,
		  struct kt_error *err)
{
	struct kt_jsonl *j;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->name = strdup(name)) == NULL) {
		free(j);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	j->fd = -1;
	j->max_line = max_line ? max_line : KT_JSONL_DEFAULT_MAX_LINE;
	*out = j;
	return KT_OK;
}

int kt_jsonl_open(const char *path, size_t max_line, struct kt_jsonl **out,
		  struct kt_error *err)
{
	struct kt_jsonl *j;
	int r;

	if ((r = jl_new(path, max_line, &j, err)) != KT_OK)
		return r;
	if ((j->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				 strerror(errno));
		kt_jsonl_free(j);
		return r;
	}
	j->cap = j->max_line + CHUNK + 2;
	if ((j->buf = malloc(j->cap)) == NULL) {
		kt_jsonl_free(j);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	*out = j;
	return KT_OK;
}

int kt_jsonl_open_mem(const char *name, const void *data, size_t len,
		      size_t max_line, struct kt_jsonl **out,
		      struct kt_error *err)
{
	struct kt_jsonl *j;
	int r;

	if ((r = jl_new(name, max_line, &j, err)) != KT_OK)
		return r;
	j->mem = data;
	j->memlen = len;
	*out = j;
	return KT_OK;
}

void kt_jsonl_free(struct kt_jsonl *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->buf);
	free(j->name);
	free(j);
}

void kt_jsonl_set_first_line(struct kt_jsonl *j, uint64_t first_line)
{
	j->line = first_line > 0 ? first_line - 1 : 0;
	j->started = first_line > 1;
}

uint64_t kt_jsonl_bytes_read(const struct kt_jsonl *j)
{
	return j->consumed;
}

static int fail(struct kt_jsonl *j, struct kt_error *err, int code,
		uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(struct kt_jsonl *j, struct kt_error *err, int code,
		uint64_t line, const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->err_code = code;
	kt_error_set(&j->err, code, "%s:%llu: %s", j->name,
		     (unsigned long long)line, msg);
	if (err)
		*err = j->err;
	return code;
}

/*
 * The next line without its terminator (start and length). 1, 0 at the end, <0
 * on error. File source: slide the window and read until a '\n' shows up or the
 * line exceeds max_line.
 */
static int next_line(struct kt_jsonl *j, const char **s, size_t *n,
		     struct kt_error *err)
{
	if (j->mem) {
		const char *p = j->mem + j->mempos, *nl;
		size_t avail = j->memlen - j->mempos;

		if (avail == 0)
			return 0;
		nl = memchr(p, '\n', avail);
		*n = nl ? (size_t)(nl - p) : avail;
		*s = p;
		if (*n > j->max_line)
			return fail(j, err, KT_ERR_LIMIT, j->line + 1,
				    "line longer than %zu bytes", j->max_line);
		j->mempos += *n + (nl ? 1 : 0);
		j->consumed += *n + (nl ? 1 : 0);
		return 1;
	}
	for (;;) {
		char *p = j->buf + j->pos, *nl;
		size_t avail = j->len - j->pos;
		ssize_t r;

		nl = memchr(p, '\n', avail);
		if (nl != NULL || (j->eof && avail > 0)) {
			*n = nl ? (size_t)(nl - p) : avail;
			if (*n > j->max_line)
				return fail(j, err, KT_ERR_LIMIT, j->line + 1,
					    "line longer than %zu bytes",
					    j->max_line);
			*s = p;
			j->pos += *n + (nl ? 1 : 0);
			j->consumed += *n + (nl ? 1 : 0);
			return 1;
		}
		if (j->eof)
			return 0;
		if (avail > j->max_line)
			return fail(j, err, KT_ERR_LIMIT, j->line + 1,
				    "line longer than %zu bytes", j->max_line);
		memmove(j->buf, p, avail);
		j->pos = 0;
		j->len = avail;
		do
			r = read(j->fd, j->buf + j->len, j->cap - j->len);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return fail(j, err, KT_ERR_IO, j->line + 1, "%s",
				    strerror(errno));
		if (r == 0)
			j->eof = 1;
		j->len += (size_t)r;
	}
}

int kt_jsonl_next(struct kt_jsonl *j, json_t **obj, uint64_t *line,
		  struct kt_error *err)
{
	const char *s = NULL;
	size_t n = 0;
	int r;

	*obj = NULL;
	if (j->err_code != KT_OK) {
		if (err)
			*err = j->err;
		return j->err_code;
	}
	for (;;) {
		json_error_t je;
		json_t *v;
		size_t k;

		if ((r = next_line(j, &s, &n, err)) <= 0)
			return r;
		j->line++;
		if (!j->started) {
			j->started = 1;
			if (n >= 2 && (((unsigned char)s[0] == 0xff &&
					(unsigned char)s[1] == 0xfe) ||
				       ((unsigned char)s[0] == 0xfe &&
					(unsigned char)s[1] == 0xff)))
				return fail(j, err, KT_ERR_INVALID, j->line,
					    "UTF-16 byte order mark: UTF-16 "
					    "is not supported");
			if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
				s += 3;
				n -= 3;
			}
		}
		if (n > 0 && s[n - 1] == '\r')
			n--;
		for (k = 0; k < n; k++)
			if (s[k] != ' ' && s[k] != '\t')
				break;
		if (k == n)
			continue; /* blank line */
		v = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
			       &je);
		if (v == NULL) {
			/* jansson quotes the offending bytes: keep the
			 * message printable ASCII */
			for (char *t = je.text; *t; t++)
				if ((unsigned char)*t < 0x20 ||
				    (unsigned char)*t >= 0x7f)
					*t = '?';
			return fail(j, err, KT_ERR_INVALID, j->line,
				    "invalid JSON at column %d: %s", je.column,
				    je.text);
		}
		if (!json_is_object(v)) {
			json_decref(v);
			return fail(j, err, KT_ERR_INVALID, j->line,
				    "expected a JSON object");
		}
		*obj = v;
		if (line)
			*line = j->line;
		return 1;
	}
}

/* One scalar as text; 1 if written, 0 for null, <0 for a container. */
static int scalar_text(const json_t *v, char *buf, size_t cap, size_t *w)
{
	char num[64];
	const char *s;
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		if (memchr(s, '\0', n) != NULL)
			return KT_ERR_INVALID;
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		s = num;
		n = strlen(num);
		break;
	case JSON_REAL:
		/* spreadsheets: 1067.0; keep one decimal for whole values */
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		if (strpbrk(num, ".eEn") == NULL)
			strncat(num, ".0", sizeof(num) - strlen(num) - 1);
		s = num;
		n = strlen(num);
		break;
	case JSON_TRUE:
		s = "true";
		n = 4;
		break;
	case JSON_FALSE:
		s = "false";
		n = 5;
		break;
	case JSON_NULL:
		return 0;
	default:
		return KT_ERR_INVALID;
	}
	if (*w + n + 1 > cap)
		return KT_ERR_LIMIT;
	memcpy(buf + *w, s, n);
	*w += n;
	buf[*w] = '\0';
	return 1;
}

int kt_jsonl_text(const json_t *obj, const char *path, char *buf, size_t cap,
		  const char **reason)
{
	const json_t *v = obj;
	const char *p = path;
	size_t w = 0, depth = 0;
	int r;

	if (cap == 0)
		return KT_ERR_LIMIT;
	buf[0] = '\0';
	if (reason)
		*reason = NULL;
	while (v != NULL && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(v) || ++depth > KT_JSONL_MAX_PATH_DEPTH) {
			v = NULL;
			break;
		}
		v = json_object_getn(v, p, n);
		p += n + (dot ? 1 : 0);
	}
	if (v == NULL || json_is_null(v))
		return KT_OK;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e)
		{
			if (w > 0) {
				if (w + 3 > cap)
					goto limit;
				memcpy(buf + w, "; ", 2);
				w += 2;
				buf[w] = '\0';
			}
			if ((r = scalar_text(e, buf, cap, &w)) < 0)
				goto bad;
		}
		return KT_OK;
	}
	if ((r = scalar_text(v, buf, cap, &w)) < 0)
		goto bad;
	return KT_OK;
bad:
	buf[0] = '\0';
	if (r == KT_ERR_LIMIT)
		goto limit;
	if (reason)
		*reason = json_is_object(v) ? "expected text, found an object"
					    : "expected text, found nested "
					      "values or a NUL character";
	return KT_ERR_INVALID;
limit:
	buf[0] = '\0';
	if (reason)
		*reason = "value too long";
	return KT_ERR_LIMIT;
}
