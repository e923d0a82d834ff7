#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kontor/err.h"
#include "kontor/mapping.h"
#include "kontor/util.h"

static const char *const field_names[KT_FIELD_COUNT] = {
    [KT_FIELD_IGNORE] = "ignore",
    [KT_FIELD_ACCOUNT_ID] = "account_id",
    [KT_FIELD_CONFIRMED_AT] = "confirmed_at",
    [KT_FIELD_NAME] = "name",
    [KT_FIELD_LEGAL_FORM] = "legal_form",
    [KT_FIELD_VAT_ID] = "vat_id",
    [KT_FIELD_TAX_NUMBER] = "tax_number",
    [KT_FIELD_W_IDNR] = "w_idnr",
    [KT_FIELD_REGISTER] = "register",
    [KT_FIELD_REGISTER_COURT] = "register_court",
    [KT_FIELD_REGISTER_TYPE] = "register_type",
    [KT_FIELD_REGISTER_NUMBER] = "register_number",
    [KT_FIELD_ADDRESS_LINE] = "address_line",
    [KT_FIELD_STREET] = "street",
    [KT_FIELD_HOUSE_NUMBER] = "house_number",
    [KT_FIELD_POSTCODE] = "postcode",
    [KT_FIELD_CITY] = "city",
    [KT_FIELD_EMAIL] = "email",
    [KT_FIELD_CONTACT_NAME] = "contact_name",
    [KT_FIELD_CONTACT_FIRST_NAME] = "contact_first_name",
    [KT_FIELD_CONTACT_LAST_NAME] = "contact_last_name",
    [KT_FIELD_CONTACT_EMAIL] = "contact_email",
    [KT_FIELD_CONTACT_EMAIL_VERIFIED] = "contact_email_verified",
    [KT_FIELD_CONTACT_PASSWORD_HASH] = "contact_password_hash",
    [KT_FIELD_CONTACT_ROLE] = "contact_role",
};

const char *kt_mapping_field_name(enum kt_field f)
{
	return ((int)f >= 0 && f < KT_FIELD_COUNT) ? field_names[f] : "";
}

int kt_mapping_field_parse(const char *name, enum kt_field *out)
{
	*out = KT_FIELD_IGNORE;
	if (name == NULL)
		return KT_ERR_INVALID;
	for (int i = 0; i < KT_FIELD_COUNT; i++)
		if (strcmp(field_names[i], name) == 0) {
			*out = (enum kt_field)i;
			return KT_OK;
		}
	return KT_ERR_INVALID;
}

/* Fields that may be mapped from several columns. */
static int repeatable(enum kt_field f)
{
	return f == KT_FIELD_IGNORE || f == KT_FIELD_EMAIL;
}

/* Groups that describe the same thing two ways: never both. */
static const struct {
	enum kt_field whole;
	enum kt_field parts[4];
} exclusive[] = {
    {KT_FIELD_ADDRESS_LINE,
     {KT_FIELD_STREET, KT_FIELD_HOUSE_NUMBER, KT_FIELD_POSTCODE,
      KT_FIELD_CITY}},
    {KT_FIELD_REGISTER,
     {KT_FIELD_REGISTER_COURT, KT_FIELD_REGISTER_TYPE, KT_FIELD_REGISTER_NUMBER,
      KT_FIELD_IGNORE}},
    {KT_FIELD_CONTACT_NAME,
     {KT_FIELD_CONTACT_FIRST_NAME, KT_FIELD_CONTACT_LAST_NAME, KT_FIELD_IGNORE,
      KT_FIELD_IGNORE}},
};

static int mfail(struct kt_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mfail(struct kt_error *err, int code, const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_error_set(err, code, "mapping: %s", msg);
}

/*
 * Bounded copy of text from the file for messages: controls become '?',
 * UTF-8 stays (column names are German: "Straße"), invalid bytes and a
 * character cut at the end do not.
 */
static const char *tame(const char *s, char *buf, size_t cap)
{
	size_t i;
	int utf8 = kt_utf8_valid(s, strlen(s));

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			     ? '?'
			     : (char)c;
	}
	buf[i] = '\0';
	while (i > 0 && !kt_utf8_valid(buf, i))
		buf[--i] = '\0';
	return buf;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

void kt_mapping_free(struct kt_mapping *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_columns; i++)
		free(m->columns[i].column);
	free(m->columns);
	free(m->source);
	free(m);
}

static int check_keys(const json_t *obj, const char *const *allowed,
		      const char *path, struct kt_error *err)
{
	const char *k;
	json_t *v;
	char kb[64];

	json_object_foreach((json_t *)obj, k, v)
	{
		const char *const *a;
		for (a = allowed; *a; a++)
			if (strcmp(*a, k) == 0)
				break;
		if (*a == NULL)
			return mfail(err, KT_ERR_INVALID, "%s.%s: unknown key",
				     path, tame(k, kb, sizeof(kb)));
	}
	return KT_OK;
}

static int get_string(const json_t *obj, const char *key, const char *path,
		      const char **out, struct kt_error *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return KT_OK;
	if (!json_is_string(v))
		return mfail(err, KT_ERR_INVALID, "%s.%s: expected a string",
			     path, key);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return mfail(err, KT_ERR_INVALID,
			     "%s.%s: contains a NUL character", path, key);
	return KT_OK;
}

static int get_bool(const json_t *obj, const char *key, const char *path,
		    int def, int *out, struct kt_error *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL)
		return KT_OK;
	if (!json_is_boolean(v))
		return mfail(err, KT_ERR_INVALID, "%s.%s: expected a boolean",
			     path, key);
	*out = json_is_true(v);
	return KT_OK;
}

/* A one-character option: "" (only if allow_empty), or one ASCII char. */
static int get_char(const json_t *obj, const char *key, char def,
		    int allow_empty, char *out, struct kt_error *err)
{
	const char *s;
	int r;

	*out = def;
	if ((r = get_string(obj, key, "", &s, err)) != KT_OK)
		return r;
	if (s == NULL)
		return KT_OK;
	if (s[0] == '\0' && allow_empty) {
		*out = '\0';
		return KT_OK;
	}
	if (strlen(s) != 1 || (unsigned char)s[0] >= 0x80 || s[0] == '\n' ||
	    s[0] == '\r' || (s[0] == '"' && strcmp(key, "delimiter") == 0))
		return mfail(err, KT_ERR_INVALID,
			     ".%s: must be a single ASCII character other "
			     "than a quote or a line break",
			     key);
	*out = s[0];
	return KT_OK;
}

static const char *const top_keys[] = {
    "source", "land",	"format",  "encoding", "delimiter",
    "quote",  "header", "columns", NULL,
};
static const char *const col_keys[] = {
    "column", "index", "field", "numeric", "required", NULL,
};

static int load_column(struct kt_mapping *m, const json_t *c, size_t i,
		       struct kt_error *err)
{
	struct kt_mapping_column *col = &m->columns[i];
	char path[48], fb[64];
	const char *name, *field;
	const json_t *idx;
	int r;

	snprintf(path, sizeof(path), ".columns[%zu]", i);
	col->index = -1;
	if (!json_is_object(c))
		return mfail(err, KT_ERR_INVALID, "%s: expected an object",
			     path);
	if ((r = check_keys(c, col_keys, path, err)) != KT_OK)
		return r;
	if ((r = get_string(c, "field", path, &field, err)) != KT_OK)
		return r;
	if (field == NULL)
		return mfail(err, KT_ERR_INVALID, "%s.field: required", path);
	if (kt_mapping_field_parse(field, &col->field) != KT_OK)
		return mfail(err, KT_ERR_INVALID,
			     "%s.field: unknown canonical field '%s'", path,
			     tame(field, fb, sizeof(fb)));
	if ((r = get_string(c, "column", path, &name, err)) != KT_OK)
		return r;
	if (name != NULL) {
		if (name[0] == '\0')
			return mfail(err, KT_ERR_INVALID,
				     "%s.column: must not be empty", path);
		if (strlen(name) > KT_MAPPING_MAX_NAME)
			return mfail(err, KT_ERR_INVALID,
				     "%s.column: longer than %d characters",
				     path, KT_MAPPING_MAX_NAME);
		if (has_control(name))
			return mfail(err, KT_ERR_INVALID,
				     "%s.column: contains control characters",
				     path);
		if ((col->column = strdup(name)) == NULL)
			return mfail(err, KT_ERR_NOMEM, "out of memory");
	}
	idx = json_object_get(c, "index");
	if (idx != NULL) {
		if (m->format == KT_MAPPING_JSONL)
			return mfail(err, KT_ERR_INVALID,
				     "%s.index: only for CSV files", path);
		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) >= KT_CSV_DEFAULT_MAX_FIELDS)
			return mfail(err, KT_ERR_INVALID,
				     "%s.index: must be an integer between 0 "
				     "and %d",
				     path, KT_CSV_DEFAULT_MAX_FIELDS - 1);
		col->index = (int)json_integer_value(idx);
	}
	if (col->column != NULL && col->index >= 0)
		return mfail(err, KT_ERR_INVALID,
			     "%s: give \"column\" or \"index\", not both",
			     path);
	if (col->column == NULL && col->index < 0)
		return mfail(
		    err, KT_ERR_INVALID, "%s: needs \"column\"%s", path,
		    m->format == KT_MAPPING_CSV ? " or \"index\"" : "");
	if (col->column != NULL && m->format == KT_MAPPING_CSV && !m->header)
		return mfail(err, KT_ERR_INVALID,
			     "%s.column: the file has no header (\"header\": "
			     "false): use \"index\"",
			     path);
	if ((r = get_bool(c, "numeric", path, 0, &col->numeric, err)) != KT_OK)
		return r;
	if (col->numeric && col->field != KT_FIELD_POSTCODE)
		return mfail(err, KT_ERR_INVALID,
			     "%s.numeric: only for the postcode field", path);
	if ((r = get_bool(c, "required", path, 0, &col->required, err)) !=
	    KT_OK)
		return r;
	return KT_OK;
}

static int load_json(const json_t *root, struct kt_mapping **out,
		     struct kt_error *err)
{
	struct kt_mapping *m = NULL;
	const char *s;
	const json_t *cols;
	char buf[64];
	int r, seen[KT_FIELD_COUNT];

	*out = NULL;
	if (!json_is_object(root))
		return mfail(err, KT_ERR_INVALID, "expected a JSON object");
	if ((r = check_keys(root, top_keys, "", err)) != KT_OK)
		return r;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return mfail(err, KT_ERR_NOMEM, "out of memory");

	if ((r = get_string(root, "land", "", &s, err)) != KT_OK)
		goto cleanup;
	if (s == NULL) {
		r = mfail(err, KT_ERR_INVALID, ".land: required");
		goto cleanup;
	}
	if (kt_land_parse(s, &m->land) != KT_OK) {
		r = mfail(err, KT_ERR_INVALID,
			  ".land: unknown Land code '%s' (expected one of "
			  "%s)",
			  tame(s, buf, sizeof(buf)), KT_LAND_CODES);
		goto cleanup;
	}
	if ((r = get_string(root, "source", "", &s, err)) != KT_OK)
		goto cleanup;
	if (s != NULL) {
		if (s[0] == '\0' || strlen(s) > 64 || has_control(s)) {
			r = mfail(err, KT_ERR_INVALID,
				  ".source: 1 to 64 printable characters");
			goto cleanup;
		}
	} else {
		s = kt_land_code(m->land);
	}
	if ((m->source = strdup(s)) == NULL) {
		r = mfail(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((r = get_string(root, "format", "", &s, err)) != KT_OK)
		goto cleanup;
	if (s == NULL || strcmp(s, "csv") == 0) {
		m->format = KT_MAPPING_CSV;
	} else if (strcmp(s, "jsonl") == 0) {
		m->format = KT_MAPPING_JSONL;
	} else {
		r = mfail(err, KT_ERR_INVALID,
			  ".format: must be one of: csv, jsonl");
		goto cleanup;
	}
	if ((r = get_string(root, "encoding", "", &s, err)) != KT_OK)
		goto cleanup;
	if (s != NULL && kt_csv_encoding_parse(s, &m->encoding) != KT_OK) {
		r = mfail(err, KT_ERR_INVALID,
			  ".encoding: unknown encoding '%s' (expected utf-8, "
			  "windows-1252 or iso-8859-1)",
			  tame(s, buf, sizeof(buf)));
		goto cleanup;
	}
	if (m->format == KT_MAPPING_JSONL && m->encoding != KT_CSV_UTF8) {
		r = mfail(err, KT_ERR_INVALID,
			  ".encoding: JSON Lines are always UTF-8");
		goto cleanup;
	}
	if (m->format == KT_MAPPING_JSONL) {
		const char *csv_only[] = {"delimiter", "quote", "header"};
		for (size_t i = 0; i < 3; i++)
			if (json_object_get(root, csv_only[i]) != NULL) {
				r = mfail(err, KT_ERR_INVALID,
					  ".%s: only for CSV files",
					  csv_only[i]);
				goto cleanup;
			}
	}
	if ((r = get_char(root, "delimiter", ',', 0, &m->delimiter, err)) !=
	    KT_OK)
		goto cleanup;
	if ((r = get_char(root, "quote", '"', 1, &m->quote, err)) != KT_OK)
		goto cleanup;
	if (m->quote != '\0' && m->quote == m->delimiter) {
		r = mfail(err, KT_ERR_INVALID,
			  ".quote: must differ from the delimiter");
		goto cleanup;
	}
	if ((r = get_bool(root, "header", "", 1, &m->header, err)) != KT_OK)
		goto cleanup;

	cols = json_object_get(root, "columns");
	if (cols == NULL) {
		r = mfail(err, KT_ERR_INVALID, ".columns: required");
		goto cleanup;
	}
	if (!json_is_array(cols) || json_array_size(cols) == 0) {
		r = mfail(err, KT_ERR_INVALID,
			  ".columns: expected a non-empty array");
		goto cleanup;
	}
	if (json_array_size(cols) > KT_MAPPING_MAX_COLUMNS) {
		r = mfail(err, KT_ERR_INVALID, ".columns: more than %d entries",
			  KT_MAPPING_MAX_COLUMNS);
		goto cleanup;
	}
	if ((m->columns = calloc(json_array_size(cols), sizeof(*m->columns))) ==
	    NULL) {
		r = mfail(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	for (int f = 0; f < KT_FIELD_COUNT; f++)
		seen[f] = -1;
	for (size_t i = 0; i < json_array_size(cols); i++) {
		enum kt_field f;

		m->n_columns = i + 1;
		if ((r = load_column(m, json_array_get(cols, i), i, err)) !=
		    KT_OK)
			goto cleanup;
		f = m->columns[i].field;
		if (!repeatable(f) && seen[f] >= 0) {
			r = mfail(err, KT_ERR_INVALID,
				  ".columns[%zu].field: '%s' is already "
				  "mapped by .columns[%d]",
				  i, field_names[f], seen[f]);
			goto cleanup;
		}
		if (seen[f] < 0)
			seen[f] = (int)i;
		for (size_t g = 0; g < sizeof(exclusive) / sizeof(exclusive[0]);
		     g++) {
			int other = -1;
			if (f == exclusive[g].whole) {
				for (int k = 0; k < 4; k++)
					if (exclusive[g].parts[k] !=
						KT_FIELD_IGNORE &&
					    seen[exclusive[g].parts[k]] >= 0)
						other =
						    seen[exclusive[g].parts[k]];
			} else {
				for (int k = 0; k < 4; k++)
					if (exclusive[g].parts[k] == f &&
					    f != KT_FIELD_IGNORE)
						other =
						    seen[exclusive[g].whole];
			}
			if (other >= 0 && other != (int)i) {
				r = mfail(err, KT_ERR_INVALID,
					  ".columns[%zu].field: '%s' cannot be "
					  "combined with '%s' (.columns[%d])",
					  i, field_names[f],
					  field_names[m->columns[other].field],
					  other);
				goto cleanup;
			}
		}
	}
	if (seen[KT_FIELD_ACCOUNT_ID] < 0) {
		r = mfail(err, KT_ERR_INVALID,
			  ".columns: no column maps to 'account_id'");
		goto cleanup;
	}
	if (seen[KT_FIELD_NAME] < 0) {
		r = mfail(err, KT_ERR_INVALID,
			  ".columns: no column maps to 'name'");
		goto cleanup;
	}
	*out = m;
	m = NULL;
	r = KT_OK;
cleanup:
	kt_mapping_free(m);
	return r;
}

int kt_mapping_load_string(const char *json, struct kt_mapping **out,
			   struct kt_error *err)
{
	json_error_t je;
	json_t *root;
	int r;

	*out = NULL;
	if (json == NULL)
		return mfail(err, KT_ERR_INVALID, "no mapping text");
	if (strlen(json) > KT_MAPPING_MAX_FILE_SIZE)
		return mfail(err, KT_ERR_LIMIT, "larger than 1 MiB");
	root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		for (char *t = je.text; *t; t++)
			if ((unsigned char)*t < 0x20 ||
			    (unsigned char)*t >= 0x7f)
				*t = '?';
		return mfail(err, KT_ERR_INVALID, "line %d, column %d: %s",
			     je.line, je.column, je.text);
	}
	r = load_json(root, out, err);
	json_decref(root);
	return r;
}

int kt_mapping_load_file(const char *path, struct kt_mapping **out,
			 struct kt_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = mfail(err, KT_ERR_IO, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = mfail(err, KT_ERR_IO, "%s: not a regular file", path);
		goto cleanup;
	}
	if (st.st_size > KT_MAPPING_MAX_FILE_SIZE) {
		r = mfail(err, KT_ERR_LIMIT, "%s: larger than 1 MiB", path);
		goto cleanup;
	}
	if ((buf = malloc(KT_MAPPING_MAX_FILE_SIZE + 2)) == NULL) {
		r = mfail(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	while (len < KT_MAPPING_MAX_FILE_SIZE + 1) {
		ssize_t n =
		    read(fd, buf + len, KT_MAPPING_MAX_FILE_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = mfail(err, KT_ERR_IO, "%s: %s", path,
				  strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KT_MAPPING_MAX_FILE_SIZE) {
		r = mfail(err, KT_ERR_LIMIT, "%s: larger than 1 MiB", path);
		goto cleanup;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		r = mfail(err, KT_ERR_INVALID, "%s: contains a NUL byte", path);
		goto cleanup;
	}
	r = kt_mapping_load_string(buf, out, err);
cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

json_t *kt_mapping_to_json(const struct kt_mapping *m)
{
	json_t *o = json_object(), *cols = json_array();
	char one[2] = {0, 0};

	if (o == NULL || cols == NULL) {
		json_decref(o);
		json_decref(cols);
		return NULL;
	}
	json_object_set_new(o, "source", json_string(m->source));
	json_object_set_new(o, "land", json_string(kt_land_code(m->land)));
	json_object_set_new(
	    o, "format",
	    json_string(m->format == KT_MAPPING_JSONL ? "jsonl" : "csv"));
	if (m->format == KT_MAPPING_CSV) {
		json_object_set_new(
		    o, "encoding",
		    json_string(kt_csv_encoding_name(m->encoding)));
		one[0] = m->delimiter;
		json_object_set_new(o, "delimiter", json_string(one));
		one[0] = m->quote;
		json_object_set_new(o, "quote", json_string(one));
		json_object_set_new(o, "header", json_boolean(m->header));
	}
	for (size_t i = 0; i < m->n_columns; i++) {
		const struct kt_mapping_column *c = &m->columns[i];
		json_t *e = json_object();
		if (e == NULL)
			continue;
		if (c->column)
			json_object_set_new(e, "column",
					    json_string(c->column));
		else
			json_object_set_new(e, "index", json_integer(c->index));
		json_object_set_new(e, "field",
				    json_string(field_names[c->field]));
		if (c->numeric)
			json_object_set_new(e, "numeric", json_true());
		if (c->required)
			json_object_set_new(e, "required", json_true());
		json_array_append_new(cols, e);
	}
	json_object_set_new(o, "columns", cols);
	return o;
}

/* Header cell without surrounding spaces. */
static void trimmed(const char *s, const char **start, size_t *len)
{
	size_t n = strlen(s);

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*start = s;
	*len = n;
}

int kt_mapping_bind_header(const struct kt_mapping *m, char *const *header,
			   size_t n, const char *file, unsigned long long line,
			   size_t *idx, struct kt_error *err)
{
	char nb[64];

	for (size_t i = 0; i < m->n_columns; i++) {
		const struct kt_mapping_column *c = &m->columns[i];
		const char *want = c->column;
		long found = -1;
		int pass;

		if (c->index >= 0) {
			if ((size_t)c->index >= n)
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "%s:%llu: column index %d is beyond the "
				    "%zu columns of the %s",
				    file, line, c->index, n,
				    header ? "header" : "first record");
			idx[i] = (size_t)c->index;
			continue;
		}
		if (header == NULL)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s:%llu: no header to find column "
					    "'%s' in",
					    file, line,
					    tame(want, nb, sizeof(nb)));
		for (pass = 0; pass < 2 && found < 0; pass++) {
			for (size_t k = 0; k < n; k++) {
				const char *h;
				size_t hl;

				trimmed(header[k], &h, &hl);
				if (hl != strlen(want))
					continue;
				if (pass == 0 ? memcmp(h, want, hl) != 0
					      : strncasecmp(h, want, hl) != 0)
					continue;
				if (found >= 0)
					return kt_error_set(
					    err, KT_ERR_INVALID,
					    "%s:%llu: column '%s' appears "
					    "twice in the header",
					    file, line,
					    tame(want, nb, sizeof(nb)));
				found = (long)k;
			}
		}
		if (found < 0)
			return kt_error_set(
			    err, KT_ERR_INVALID,
			    "%s:%llu: column '%s' is not in the "
			    "header",
			    file, line, tame(want, nb, sizeof(nb)));
		idx[i] = (size_t)found;
	}
	return KT_OK;
}
