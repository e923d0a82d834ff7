#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kontor/err.h"
#include "kontor/ident.h"
#include "kontor/record.h"
#include "kontor/util.h"

/* ---- arena -------------------------------------------------------------- */

/*
 * Design: a record is built once per input row, a million times per run.
 * Its strings come from a chunked arena that kt_rec_reset() rewinds, so a
 * steady-state import does no malloc per row.
 */

#define CHUNK_SIZE (16 * 1024)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct kt_rec_arena {
	struct chunk *head;
	char *json; /* output buffer of kt_rec_write_json */
	size_t jlen, jcap;
	int oom;
};

static char *ar_alloc(struct kt_rec *r, size_t n)
{
	struct kt_rec_arena *a = r->arena;
	struct chunk *c = a->head;

	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		struct chunk *nc = malloc(sizeof(*nc) + cap);
		if (nc == NULL) {
			a->oom = 1;
			return NULL;
		}
		nc->used = 0;
		nc->cap = cap;
		nc->next = a->head;
		a->head = nc;
		c = nc;
	}
	c->used += n;
	return c->data + c->used - n;
}

static const char *ar_strndup(struct kt_rec *r, const char *s, size_t n)
{
	char *p;

	if (n == 0)
		return "";
	if ((p = ar_alloc(r, n + 1)) == NULL)
		return "";
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static const char *ar_strdup(struct kt_rec *r, const char *s)
{
	return ar_strndup(r, s, strlen(s));
}

static const char *ar_printf(struct kt_rec *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *ar_printf(struct kt_rec *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return ar_strdup(r, buf);
}

static void clear_fields(struct kt_rec *r)
{
	struct kt_rec_arena *a = r->arena;

	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->source = r->file = r->account_id = r->confirmed_at = "";
	r->name.raw = r->name.display = r->name.key = "";
	r->vat.raw = r->vat.norm = "";
	r->taxno.raw = r->taxno.norm = "";
	r->widnr.raw = r->widnr.norm = "";
	r->reg.raw = r->reg.court = r->reg.court_id = r->reg.type = "";
	r->reg.number = r->reg.suffix = "";
	r->addr.street = r->addr.street_key = r->addr.house_number = "";
	r->addr.postcode = r->addr.city = r->addr.city_key = "";
	r->contact.name = r->contact.name_key = r->contact.email = "";
	r->contact.password_hash = r->contact.role = "";
}

struct kt_rec *kt_rec_new(void)
{
	struct kt_rec *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if ((r->arena = calloc(1, sizeof(*r->arena))) == NULL) {
		free(r);
		return NULL;
	}
	clear_fields(r);
	return r;
}

void kt_rec_reset(struct kt_rec *r)
{
	struct kt_rec_arena *a = r->arena;
	struct chunk *c = a->head;

	/* keep the newest (largest-needed) chunk, free the rest */
	if (c != NULL) {
		struct chunk *rest = c->next;
		c->next = NULL;
		c->used = 0;
		while (rest) {
			struct chunk *n = rest->next;
			free(rest);
			rest = n;
		}
	}
	a->oom = 0;
	clear_fields(r);
}

void kt_rec_free(struct kt_rec *r)
{
	struct chunk *c;

	if (r == NULL)
		return;
	c = r->arena->head;
	while (c) {
		struct chunk *n = c->next;
		free(c);
		c = n;
	}
	/* the output buffer may hold a password hash; it is not a C string,
	 * so wipe it by capacity */
	if (r->arena->json) {
		OPENSSL_cleanse(r->arena->json, r->arena->jcap);
		free(r->arena->json);
	}
	free(r->arena);
	free(r);
}

static void add_issue(struct kt_rec *r, enum kt_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_issue(struct kt_rec *r, enum kt_field f, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (r->n_issues >= KT_REC_MAX_ISSUES) {
		r->n_issues_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* reasons quote input; a cut at the end must not split a UTF-8
	 * character, and nothing else may be invalid in the JSON output */
	{
		size_t n = strlen(buf);
		while (n > 0 && !kt_utf8_valid(buf, n))
			buf[--n] = '\0';
	}
	r->issues[r->n_issues].field = f;
	r->issues[r->n_issues].reason = ar_strdup(r, buf);
	r->n_issues++;
}

/* ---- small parsers ------------------------------------------------------ */

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* [s, s+n) without surrounding whitespace. */
static const char *trim(const char *s, size_t *n)
{
	size_t len = strlen(s);

	while (len > 0 && is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space((unsigned char)s[len - 1]))
		len--;
	*n = len;
	return s;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30,
				  31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

static int num(const char *s, size_t n, int *out)
{
	int v = 0;

	if (n == 0 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int kt_rec_parse_date(const char *in, char out[11])
{
	size_t n, i;
	const char *s;
	int y, m, d;

	out[0] = '\0';
	if (in == NULL)
		return KT_ERR_INVALID;
	s = trim(in, &n);
	if (n == 0 || n > 40)
		return KT_ERR_INVALID;
	/* the date part ends at 'T' or a space */
	for (i = 0; i < n && s[i] != 'T' && s[i] != ' '; i++)
		;
	if (i == 10 && s[4] == '-' && s[7] == '-') {
		if (num(s, 4, &y) || num(s + 5, 2, &m) || num(s + 8, 2, &d))
			return KT_ERR_INVALID;
	} else if (memchr(s, '.', i) != NULL) {
		const char *p1 = memchr(s, '.', i), *p2;
		p2 = memchr(p1 + 1, '.', (size_t)(s + i - p1 - 1));
		if (p2 == NULL || num(s, (size_t)(p1 - s), &d) ||
		    num(p1 + 1, (size_t)(p2 - p1 - 1), &m) ||
		    (size_t)(s + i - p2 - 1) != 4 || num(p2 + 1, 4, &y) ||
		    p1 - s > 2 || p2 - p1 - 1 > 2)
			return KT_ERR_INVALID;
	} else if (i == n && n >= 9 && n <= 10) {
		/* Unix seconds */
		uint64_t v;
		time_t t;
		struct tm tm;
		char tmp[16];

		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (kt_parse_uint(tmp, 4102444800ull, &v) != KT_OK)
			return KT_ERR_INVALID;
		t = (time_t)v;
		if (gmtime_r(&t, &tm) == NULL)
			return KT_ERR_INVALID;
		y = tm.tm_year + 1900;
		m = tm.tm_mon + 1;
		d = tm.tm_mday;
	} else {
		return KT_ERR_INVALID;
	}
	if (y < 1990 || y > 2100 || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, m))
		return KT_ERR_INVALID;
	/* y, m, d are range-checked: write the digits directly */
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
	return KT_OK;
}

int kt_rec_parse_bool(const char *in, int *out)
{
	static const char *const yes[] = {"1", "true", "ja",   "j", "yes",
					  "y", "x",    "wahr", NULL};
	static const char *const no[] = {"0",  "false",	 "nein", "n",
					 "no", "falsch", "",	 NULL};
	char buf[16];
	size_t n;
	const char *s;

	*out = 0;
	if (in == NULL)
		return KT_OK;
	s = trim(in, &n);
	if (n >= sizeof(buf))
		return KT_ERR_INVALID;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (const char *const *p = yes; *p; p++)
		if (strcasecmp(buf, *p) == 0) {
			*out = 1;
			return KT_OK;
		}
	for (const char *const *p = no; *p; p++)
		if (strcasecmp(buf, *p) == 0)
			return KT_OK;
	return KT_ERR_INVALID;
}

/* ---- build -------------------------------------------------------------- */

static int reject(struct kt_rec_reject *rej, enum kt_field f, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));

static int reject(struct kt_rec_reject *rej, enum kt_field f, const char *fmt,
		  ...)
{
	va_list ap;

	rej->field = f;
	va_start(ap, fmt);
	vsnprintf(rej->reason, sizeof(rej->reason), fmt, ap);
	va_end(ap);
	return KT_ERR_INVALID;
}

/* Trimmed, arena-owned text of the one column mapped to f, or "". */
struct row_view {
	const char *v[KT_FIELD_COUNT];
	int numeric_postcode;
};

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void build_address(struct kt_rec *r, const struct kt_mapping *m,
			  const struct row_view *rv)
{
	char street[KT_NORM_TEXT_MAX + 1], hn[64], key[KT_NORM_TEXT_MAX * 2];
	const char *street_in = rv->v[KT_FIELD_STREET];
	const char *hn_in = rv->v[KT_FIELD_HOUSE_NUMBER];
	const char *pc_in = rv->v[KT_FIELD_POSTCODE];
	const char *city_in = rv->v[KT_FIELD_CITY];
	struct kt_norm_address al;
	struct kt_error e;
	char disp[KT_NORM_TEXT_MAX * 2];

	if (rv->v[KT_FIELD_ADDRESS_LINE][0] != '\0') {
		if (kt_norm_address_line(rv->v[KT_FIELD_ADDRESS_LINE], &al,
					 &e) == KT_OK) {
			street_in = ar_strdup(r, al.street);
			hn_in = ar_strdup(r, al.house_number);
			pc_in = ar_strdup(r, al.postcode);
			city_in = ar_strdup(r, al.city);
		} else {
			add_issue(r, KT_FIELD_ADDRESS_LINE, "%s", e.msg);
			street_in = rv->v[KT_FIELD_ADDRESS_LINE];
		}
	}
	/* street, with the house number split off if there is no column */
	if (hn_in[0] == '\0' && street_in[0] != '\0') {
		if (kt_norm_street_split(street_in, street, sizeof(street), hn,
					 sizeof(hn)) == KT_OK) {
			street_in = ar_strdup(r, street);
			hn_in = ar_strdup(r, hn);
		}
	}
	if (street_in[0] != '\0') {
		if (kt_norm_display(street_in, disp, sizeof(disp)) == KT_OK)
			r->addr.street = ar_strdup(r, disp);
		if (kt_norm_street_key(street_in, key, sizeof(key)) == KT_OK)
			r->addr.street_key = ar_strdup(r, key);
		r->addr.po_box = kt_norm_street_is_po_box(street_in);
	}
	if (hn_in[0] != '\0') {
		int rc = kt_norm_house_number(hn_in, hn, sizeof(hn), &e);
		r->addr.house_number = ar_strdup(r, hn);
		if (rc != KT_OK)
			add_issue(r, KT_FIELD_HOUSE_NUMBER, "%s", e.msg);
	}
	if (pc_in[0] != '\0') {
		char pc[6];
		unsigned flags;

		if (kt_norm_postcode(pc_in, m->land, rv->numeric_postcode, pc,
				     &flags, &e) == KT_OK) {
			r->addr.postcode = ar_strdup(r, pc);
			r->addr.postcode_restored =
			    (flags & KT_NORM_PLZ_PADDED) != 0;
			if ((flags & KT_NORM_PLZ_PADDED) &&
			    !rv->numeric_postcode)
				add_issue(r, KT_FIELD_POSTCODE,
					  "postcode '%s' had 4 digits; leading "
					  "zero restored",
					  pc_in);
		} else {
			add_issue(r, KT_FIELD_POSTCODE, "%s: '%s'", e.msg,
				  pc_in);
		}
	}
	if (city_in[0] != '\0') {
		if (kt_norm_display(city_in, disp, sizeof(disp)) == KT_OK) {
			/* trailing periods from register texts */
			size_t n = strlen(disp);
			while (n > 0 && disp[n - 1] == '.')
				disp[--n] = '\0';
			r->addr.city = ar_strdup(r, disp);
		}
		if (kt_norm_city_key(city_in, key, sizeof(key)) == KT_OK)
			r->addr.city_key = ar_strdup(r, key);
	}
}

static void build_ident(struct kt_rec *r, const struct kt_mapping *m,
			const struct row_view *rv)
{
	struct kt_error e;
	const char *s;

	if ((s = rv->v[KT_FIELD_VAT_ID])[0] != '\0') {
		char out[12];
		r->vat.raw = s;
		r->vat.valid = kt_ident_vat_normalize(s, out, &e) == KT_OK;
		r->vat.norm = ar_strdup(r, out);
		if (!r->vat.valid)
			add_issue(r, KT_FIELD_VAT_ID, "%s", e.msg);
		else if (out[2] == '0')
			add_issue(r, KT_FIELD_VAT_ID,
				  "starts with 0 after DE (suspicious, kept "
				  "as valid)");
	}
	if ((s = rv->v[KT_FIELD_W_IDNR])[0] != '\0') {
		char out[18];
		r->widnr.raw = s;
		r->widnr.valid = kt_ident_widnr_normalize(s, out, &e) == KT_OK;
		r->widnr.norm = ar_strdup(r, out);
		if (!r->widnr.valid)
			add_issue(r, KT_FIELD_W_IDNR, "%s", e.msg);
	}
	if ((s = rv->v[KT_FIELD_TAX_NUMBER])[0] != '\0') {
		/* The tax office is the one of the company's seat: try the
		 * Land of its postcode and of its register court before the
		 * exporting portal's. */
		enum kt_land cand[3] = {kt_land_from_postcode(r->addr.postcode),
					r->reg_land, m->land};
		char out[14];

		r->taxno.raw = s;
		r->taxno.valid =
		    kt_ident_taxno_resolve(s, cand, 3, out, &r->taxno_land,
					   &e) == KT_OK;
		r->taxno.norm = ar_strdup(r, out);
		if (!r->taxno.valid)
			add_issue(r, KT_FIELD_TAX_NUMBER, "%s", e.msg);
	}
}

static void build_register(struct kt_rec *r, const struct row_view *rv)
{
	const char *text = rv->v[KT_FIELD_REGISTER];
	struct kt_ident_register reg;
	struct kt_error e;
	const char *reg_of_lf;

	if (text[0] == '\0' && (rv->v[KT_FIELD_REGISTER_TYPE][0] != '\0' ||
				rv->v[KT_FIELD_REGISTER_NUMBER][0] != '\0')) {
		/* split columns: "HRB" "1234 B" "Kiel" -> one entry */
		const char *court = rv->v[KT_FIELD_REGISTER_COURT];
		text = ar_printf(r, "%s %s%s%s", rv->v[KT_FIELD_REGISTER_TYPE],
				 rv->v[KT_FIELD_REGISTER_NUMBER],
				 court[0] ? ", Amtsgericht " : "", court);
	}
	if (text[0] == '\0')
		return;
	r->reg.raw = text;
	if (kt_ident_register_parse(text, &reg, &e) != KT_OK) {
		add_issue(r, KT_FIELD_REGISTER, "%s", e.msg);
		return;
	}
	r->reg.valid = 1;
	r->reg.type = kt_ident_regtype_name(reg.type);
	r->reg.number = ar_strdup(r, reg.number);
	r->reg.suffix = ar_strdup(r, reg.suffix);
	r->reg.court = ar_strdup(r, reg.court);
	r->reg.court_id = ar_strdup(r, reg.court_id);
	r->reg.court_known = reg.court_known;
	r->reg_land = reg.court_known ? reg.court_land : KT_LAND_NONE;
	if (!reg.court_known) {
		if (reg.court[0] == '\0')
			add_issue(r, KT_FIELD_REGISTER,
				  "no register court: '%s %s' alone identifies "
				  "nothing",
				  r->reg.type, r->reg.number);
		else
			add_issue(r, KT_FIELD_REGISTER,
				  "register court '%s' is not in the table of "
				  "register courts",
				  reg.court);
	}
	/* A GmbH in the HRA (or a KG in the HRB) hints at a conversion or
	 * a typo: worth a look, not a rejection. */
	reg_of_lf = kt_norm_lf_register(r->legal_form);
	if (reg_of_lf[0] != '\0' && strcmp(reg_of_lf, r->reg.type) != 0 &&
	    !(r->legal_form == KT_LF_GBR && r->reg.type[0] == '\0'))
		add_issue(r, KT_FIELD_REGISTER,
			  "%s entry for legal form %s (expected %s)",
			  r->reg.type, kt_norm_lf_code(r->legal_form),
			  reg_of_lf);
}

static void add_email(struct kt_rec *r, const char *s, size_t n,
		      enum kt_field f)
{
	char in[KT_NORM_EMAIL_MAX * 2 + 1], out[KT_NORM_EMAIL_MAX + 1];
	struct kt_error e;

	if (n == 0)
		return;
	if (n >= sizeof(in)) {
		add_issue(r, f, "e-mail address too long");
		return;
	}
	memcpy(in, s, n);
	in[n] = '\0';
	if (kt_norm_email(in, out, sizeof(out), &e) != KT_OK) {
		add_issue(r, f, "invalid e-mail '%s': %s", out, e.msg);
		return;
	}
	for (size_t i = 0; i < r->n_emails; i++)
		if (strcasecmp(r->emails[i], out) == 0)
			return;
	if (r->n_emails >= KT_REC_MAX_EMAILS) {
		add_issue(r, f, "more than %d e-mail addresses",
			  KT_REC_MAX_EMAILS);
		return;
	}
	r->emails[r->n_emails++] = ar_strdup(r, out);
}

/* "a@b.de; c@d.de", "a@b.de, c@d.de", "a@b.de c@d.de" */
static void add_email_list(struct kt_rec *r, const char *s, enum kt_field f)
{
	while (*s) {
		size_t n = strcspn(s, ";, \t\r\n");
		add_email(r, s, n, f);
		s += n;
		while (*s && strchr(";, \t\r\n", *s))
			s++;
	}
}

static void build_contact(struct kt_rec *r, const struct row_view *rv)
{
	char d[KT_NORM_TEXT_MAX * 2], k[KT_NORM_TEXT_MAX * 2];
	const char *name = rv->v[KT_FIELD_CONTACT_NAME];
	const char *em = rv->v[KT_FIELD_CONTACT_EMAIL];
	struct kt_error e;

	if (name[0] == '\0' && (rv->v[KT_FIELD_CONTACT_FIRST_NAME][0] ||
				rv->v[KT_FIELD_CONTACT_LAST_NAME][0]))
		name =
		    ar_printf(r, "%s%s%s", rv->v[KT_FIELD_CONTACT_FIRST_NAME],
			      rv->v[KT_FIELD_CONTACT_FIRST_NAME][0] &&
				      rv->v[KT_FIELD_CONTACT_LAST_NAME][0]
				  ? " "
				  : "",
			      rv->v[KT_FIELD_CONTACT_LAST_NAME]);
	if (name[0] != '\0' &&
	    kt_norm_person_name(name, d, sizeof(d), k, sizeof(k)) == KT_OK) {
		r->contact.name = ar_strdup(r, d);
		r->contact.name_key = ar_strdup(r, k);
	}
	if (em[0] != '\0') {
		char out[KT_NORM_EMAIL_MAX + 1];
		size_t n = strcspn(em, ";, \t");

		if (em[n] != '\0')
			add_issue(r, KT_FIELD_CONTACT_EMAIL,
				  "several addresses; the first is used");
		{
			char one[KT_NORM_EMAIL_MAX * 2 + 1];
			if (n >= sizeof(one))
				n = sizeof(one) - 1;
			memcpy(one, em, n);
			one[n] = '\0';
			r->contact.email_valid =
			    kt_norm_email(one, out, sizeof(out), &e) == KT_OK;
		}
		r->contact.email = ar_strdup(r, out);
		if (!r->contact.email_valid)
			add_issue(r, KT_FIELD_CONTACT_EMAIL,
				  "invalid e-mail '%s': %s", out, e.msg);
	}
	if (rv->v[KT_FIELD_CONTACT_EMAIL_VERIFIED][0] != '\0' &&
	    kt_rec_parse_bool(rv->v[KT_FIELD_CONTACT_EMAIL_VERIFIED],
			      &r->contact.email_verified) != KT_OK)
		add_issue(r, KT_FIELD_CONTACT_EMAIL_VERIFIED,
			  "not a yes/no value: '%s' (taken as no)",
			  rv->v[KT_FIELD_CONTACT_EMAIL_VERIFIED]);
	/* an unverifiable address cannot be verified */
	if (!r->contact.email_valid)
		r->contact.email_verified = 0;
	r->contact.password_hash = rv->v[KT_FIELD_CONTACT_PASSWORD_HASH];
	if (rv->v[KT_FIELD_CONTACT_ROLE][0] != '\0' &&
	    kt_norm_display(rv->v[KT_FIELD_CONTACT_ROLE], d, sizeof(d)) ==
		KT_OK)
		r->contact.role = ar_strdup(r, d);
}

int kt_rec_build(struct kt_rec *r, const struct kt_mapping *m,
		 const char *const *values, const char *file, uint64_t line,
		 struct kt_rec_reject *rej)
{
	struct row_view rv;
	struct kt_norm_company nc;
	struct kt_error e;
	size_t n;
	const char *s;

	kt_rec_reset(r);
	memset(rej, 0, sizeof(*rej));
	for (int f = 0; f < KT_FIELD_COUNT; f++)
		rv.v[f] = "";
	rv.numeric_postcode = 0;
	r->land = m->land;
	r->source = ar_strdup(r, m->source);
	r->file = ar_strdup(r, file ? file : "");
	r->line = line;

	for (size_t i = 0; i < m->n_columns; i++) {
		const struct kt_mapping_column *c = &m->columns[i];
		const char *v = values[i] ? values[i] : "";
		const char *t;

		if (c->field == KT_FIELD_IGNORE)
			continue;
		if (strnlen(v, KT_NORM_TEXT_MAX + 1) > KT_NORM_TEXT_MAX)
			return reject(rej, c->field, "longer than %d bytes",
				      KT_NORM_TEXT_MAX);
		t = trim(v, &n);
		if (n == 0 && c->required)
			return reject(rej, c->field, "required field is empty");
		if (c->field == KT_FIELD_POSTCODE)
			rv.numeric_postcode = c->numeric;
		if (c->field == KT_FIELD_EMAIL) {
			if (n > 0)
				add_email_list(r, ar_strndup(r, t, n),
					       KT_FIELD_EMAIL);
			continue;
		}
		rv.v[c->field] = ar_strndup(r, t, n);
	}

	s = rv.v[KT_FIELD_ACCOUNT_ID];
	if (s[0] == '\0')
		return reject(rej, KT_FIELD_ACCOUNT_ID, "missing account id");
	if (strlen(s) > KT_REC_ACCOUNT_ID_MAX)
		return reject(rej, KT_FIELD_ACCOUNT_ID,
			      "account id longer than %d characters",
			      KT_REC_ACCOUNT_ID_MAX);
	if (has_control(s))
		return reject(rej, KT_FIELD_ACCOUNT_ID,
			      "account id contains control characters");
	r->account_id = s;

	if (rv.v[KT_FIELD_NAME][0] == '\0')
		return reject(rej, KT_FIELD_NAME, "missing company name");
	if (kt_norm_company_name(rv.v[KT_FIELD_NAME], rv.v[KT_FIELD_LEGAL_FORM],
				 &nc, &e) != KT_OK)
		return reject(rej, KT_FIELD_NAME, "%s", e.msg);
	r->name.raw = rv.v[KT_FIELD_NAME];
	r->name.display = ar_strdup(r, nc.display);
	r->name.key = ar_strdup(r, nc.key);
	r->legal_form = nc.legal_form;
	r->name_state = nc.state;
	if (rv.v[KT_FIELD_LEGAL_FORM][0] != '\0') {
		enum kt_lf lf;
		if (kt_norm_legal_form(rv.v[KT_FIELD_LEGAL_FORM], &lf) != KT_OK)
			add_issue(r, KT_FIELD_LEGAL_FORM,
				  "unknown legal form '%s'",
				  rv.v[KT_FIELD_LEGAL_FORM]);
		else if (nc.legal_form_conflict)
			add_issue(r, KT_FIELD_LEGAL_FORM,
				  "the column says %s, the name says %s; the "
				  "name wins",
				  kt_norm_lf_code(nc.legal_form_column),
				  kt_norm_lf_code(nc.legal_form_in_name));
	}

	if ((s = rv.v[KT_FIELD_CONFIRMED_AT])[0] != '\0') {
		char d[11];
		if (kt_rec_parse_date(s, d) == KT_OK)
			r->confirmed_at = ar_strdup(r, d);
		else
			add_issue(r, KT_FIELD_CONFIRMED_AT, "not a date: '%s'",
				  s);
	}
	build_address(r, m, &rv);
	build_register(r, &rv);
	build_ident(r, m, &rv);
	build_contact(r, &rv);
	if (r->arena->oom)
		return KT_ERR_NOMEM;
	return KT_OK;
}

int kt_rec_id(const struct kt_rec *r, char *buf, size_t cap)
{
	int n =
	    snprintf(buf, cap, "%s:%s", kt_land_code(r->land), r->account_id);

	return (n < 0 || (size_t)n >= cap) ? KT_ERR_LIMIT : KT_OK;
}

/* ---- JSON out ------------------------------------------------------------ */

/* Grow the output buffer for n more bytes; 0 on allocation failure. */
static int jb_grow(struct kt_rec_arena *a, size_t n)
{
	size_t cap = a->jcap ? a->jcap : 4096;
	char *nb;

	if (a->oom)
		return 0;
	while (cap < a->jlen + n + 1)
		cap *= 2;
	/* not realloc: the old buffer may hold a password hash */
	if ((nb = malloc(cap)) == NULL) {
		a->oom = 1;
		return 0;
	}
	if (a->json) {
		memcpy(nb, a->json, a->jlen);
		OPENSSL_cleanse(a->json, a->jcap);
		free(a->json);
	}
	a->json = nb;
	a->jcap = cap;
	return 1;
}

static inline int jb_room(struct kt_rec_arena *a, size_t n)
{
	return a->jlen + n + 1 <= a->jcap || jb_grow(a, n);
}

static void jb_put(struct kt_rec_arena *a, const char *s, size_t n)
{
	if (!jb_room(a, n))
		return;
	memcpy(a->json + a->jlen, s, n);
	a->jlen += n;
}

static void jb_lit(struct kt_rec_arena *a, const char *s)
{
	jb_put(a, s, strlen(s));
}

/* 1 for bytes that need escaping in a JSON string. */
static const unsigned char json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static void jb_str(struct kt_rec_arena *a, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	char *w;

	/* worst case: every byte as \u00XX, plus the quotes */
	if (!jb_room(a, 6 * n + 2))
		return;
	w = a->json + a->jlen;
	*w++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!json_esc[c]) {
			*w++ = (char)c;
			continue;
		}
		*w++ = '\\';
		switch (c) {
		case '"':
			*w++ = '"';
			break;
		case '\\':
			*w++ = '\\';
			break;
		case '\n':
			*w++ = 'n';
			break;
		case '\r':
			*w++ = 'r';
			break;
		case '\t':
			*w++ = 't';
			break;
		default:
			memcpy(w, "u00", 3);
			w += 3;
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
	}
	*w++ = '"';
	a->jlen = (size_t)(w - a->json);
}

/* Keys are literals: written with their quotes and colon in one copy. */
#define jb_kv(a, k, v, comma)                                                  \
	do {                                                                   \
		if (comma)                                                     \
			jb_put((a), ",\"" k "\":", sizeof(",\"" k "\":") - 1); \
		else                                                           \
			jb_put((a), "\"" k "\":", sizeof("\"" k "\":") - 1);   \
		jb_str((a), (v));                                              \
	} while (0)

#define jb_kb(a, k, v)                                                         \
	do {                                                                   \
		if (v)                                                         \
			jb_put((a), ",\"" k "\":true",                         \
			       sizeof(",\"" k "\":true") - 1);                 \
		else                                                           \
			jb_put((a), ",\"" k "\":false",                        \
			       sizeof(",\"" k "\":false") - 1);                \
	} while (0)

static void jb_ident(struct kt_rec_arena *a, const char *key,
		     const struct kt_rec_ident *id, const char *land)
{
	if (id->raw[0] == '\0')
		return;
	jb_put(a, ",", 1);
	jb_str(a, key);
	jb_put(a, ":{", 2);
	jb_kv(a, "raw", id->raw, 0);
	jb_kv(a, "norm", id->norm, 1);
	jb_kb(a, "valid", id->valid);
	if (land != NULL)
		jb_kv(a, "land", land, 1);
	jb_lit(a, "}");
}

static const char *const state_names[] = {"liquidation", "formation",
					  "insolvency"};

int kt_rec_write_json(struct kt_rec *r, FILE *out)
{
	struct kt_rec_arena *a = r->arena;
	char id[KT_REC_ACCOUNT_ID_MAX + 8], ln[24];

	a->jlen = 0;
	if (kt_rec_id(r, id, sizeof(id)) != KT_OK)
		return KT_ERR_LIMIT;
	jb_lit(a, "{");
	jb_kv(a, "id", id, 0);
	jb_kv(a, "land", kt_land_code(r->land), 1);
	jb_kv(a, "source", r->source, 1);
	jb_kv(a, "file", r->file, 1);
	snprintf(ln, sizeof(ln), ",\"line\":%llu", (unsigned long long)r->line);
	jb_lit(a, ln);
	jb_kv(a, "account_id", r->account_id, 1);
	jb_kv(a, "confirmed_at", r->confirmed_at, 1);
	jb_lit(a, ",\"name\":{");
	jb_kv(a, "raw", r->name.raw, 0);
	jb_kv(a, "display", r->name.display, 1);
	jb_kv(a, "key", r->name.key, 1);
	jb_lit(a, "}");
	jb_kv(a, "legal_form", kt_norm_lf_code(r->legal_form), 1);
	jb_lit(a, ",\"state\":[");
	for (unsigned i = 0, k = 0; i < 3; i++)
		if (r->name_state & (1u << i)) {
			if (k++)
				jb_lit(a, ",");
			jb_str(a, state_names[i]);
		}
	jb_lit(a, "]");
	jb_ident(a, "vat_id", &r->vat, NULL);
	jb_ident(a, "tax_number", &r->taxno, kt_land_code(r->taxno_land));
	jb_ident(a, "w_idnr", &r->widnr, NULL);
	if (r->reg.raw[0] != '\0') {
		jb_lit(a, ",\"register\":{");
		jb_kv(a, "raw", r->reg.raw, 0);
		jb_kv(a, "court", r->reg.court, 1);
		jb_kv(a, "court_id", r->reg.court_id, 1);
		jb_kb(a, "court_known", r->reg.court_known);
		jb_kv(a, "type", r->reg.type, 1);
		jb_kv(a, "number", r->reg.number, 1);
		jb_kv(a, "suffix", r->reg.suffix, 1);
		jb_kb(a, "valid", r->reg.valid);
		jb_lit(a, "}");
	}
	jb_lit(a, ",\"address\":{");
	jb_kv(a, "street", r->addr.street, 0);
	jb_kv(a, "street_key", r->addr.street_key, 1);
	jb_kv(a, "house_number", r->addr.house_number, 1);
	jb_kv(a, "postcode", r->addr.postcode, 1);
	jb_kb(a, "postcode_restored", r->addr.postcode_restored);
	jb_kv(a, "city", r->addr.city, 1);
	jb_kv(a, "city_key", r->addr.city_key, 1);
	jb_kb(a, "po_box", r->addr.po_box);
	jb_lit(a, "},\"emails\":[");
	for (size_t i = 0; i < r->n_emails; i++) {
		if (i)
			jb_lit(a, ",");
		jb_str(a, r->emails[i]);
	}
	jb_lit(a, "],\"contact\":{");
	jb_kv(a, "name", r->contact.name, 0);
	jb_kv(a, "name_key", r->contact.name_key, 1);
	jb_kv(a, "email", r->contact.email, 1);
	jb_kb(a, "email_valid", r->contact.email_valid);
	jb_kb(a, "email_verified", r->contact.email_verified);
	jb_kv(a, "password_hash", r->contact.password_hash, 1);
	jb_kv(a, "role", r->contact.role, 1);
	jb_lit(a, "},\"issues\":[");
	for (size_t i = 0; i < r->n_issues; i++) {
		jb_lit(a, i ? ",{" : "{");
		jb_kv(a, "field", kt_mapping_field_name(r->issues[i].field), 0);
		jb_kv(a, "reason", r->issues[i].reason, 1);
		jb_lit(a, "}");
	}
	jb_lit(a, "]}\n");
	if (a->oom)
		return KT_ERR_NOMEM;
	if (fwrite(a->json, 1, a->jlen, out) != a->jlen)
		return KT_ERR_IO;
	return KT_OK;
}

/* ---- JSON in ------------------------------------------------------------- */

struct jin {
	struct kt_rec *r;
	struct kt_error *err;
	int failed;
};

static const char *jstr(struct jin *in, const json_t *obj, const char *path,
			const char *key, int required)
{
	const json_t *v = json_object_get(obj, key);

	if (in->failed)
		return "";
	if (v == NULL) {
		if (required) {
			kt_error_set(in->err, KT_ERR_INVALID,
				     "record: %s.%s: required", path, key);
			in->failed = 1;
		}
		return "";
	}
	if (!json_is_string(v)) {
		kt_error_set(in->err, KT_ERR_INVALID,
			     "record: %s.%s: expected a string", path, key);
		in->failed = 1;
		return "";
	}
	return ar_strndup(in->r, json_string_value(v), json_string_length(v));
}

static int jbool(struct jin *in, const json_t *obj, const char *path,
		 const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (in->failed || v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		kt_error_set(in->err, KT_ERR_INVALID,
			     "record: %s.%s: expected a boolean", path, key);
		in->failed = 1;
		return 0;
	}
	return json_is_true(v);
}

static const json_t *jobj(struct jin *in, const json_t *obj, const char *key,
			  int required)
{
	const json_t *v = json_object_get(obj, key);

	if (in->failed)
		return NULL;
	if (v == NULL && !required)
		return NULL;
	if (!json_is_object(v)) {
		kt_error_set(in->err, KT_ERR_INVALID,
			     "record: .%s: expected an object", key);
		in->failed = 1;
		return NULL;
	}
	return v;
}

static void jident(struct jin *in, const json_t *root, const char *key,
		   struct kt_rec_ident *id)
{
	const json_t *o = jobj(in, root, key, 0);
	char path[32];

	if (o == NULL)
		return;
	snprintf(path, sizeof(path), ".%s", key);
	id->raw = jstr(in, o, path, "raw", 1);
	id->norm = jstr(in, o, path, "norm", 0);
	id->valid = jbool(in, o, path, "valid");
}

int kt_rec_from_json(struct kt_rec *r, const json_t *obj, struct kt_error *err)
{
	struct jin in = {r, err, 0};
	const json_t *o, *v;
	const char *s;

	kt_rec_reset(r);
	if (!json_is_object(obj))
		return kt_error_set(err, KT_ERR_INVALID,
				    "record: expected an object");
	s = jstr(&in, obj, "", "land", 1);
	if (!in.failed && kt_land_parse(s, &r->land) != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID,
				    "record: .land: unknown Land code");
	r->source = jstr(&in, obj, "", "source", 0);
	r->file = jstr(&in, obj, "", "file", 0);
	if (!in.failed && (v = json_object_get(obj, "line")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return kt_error_set(err, KT_ERR_INVALID,
					    "record: .line: expected a "
					    "non-negative integer");
		r->line = (uint64_t)json_integer_value(v);
	}
	r->account_id = jstr(&in, obj, "", "account_id", 1);
	r->confirmed_at = jstr(&in, obj, "", "confirmed_at", 0);
	if ((o = jobj(&in, obj, "name", 1)) != NULL) {
		r->name.raw = jstr(&in, o, ".name", "raw", 0);
		r->name.display = jstr(&in, o, ".name", "display", 0);
		r->name.key = jstr(&in, o, ".name", "key", 1);
	}
	s = jstr(&in, obj, "", "legal_form", 0);
	if (!in.failed && s[0] != '\0' &&
	    kt_norm_lf_from_code(s, &r->legal_form) != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID,
				    "record: .legal_form: unknown code");
	if (!in.failed && (v = json_object_get(obj, "state")) != NULL) {
		size_t i;
		json_t *e;
		if (!json_is_array(v))
			return kt_error_set(
			    err, KT_ERR_INVALID,
			    "record: .state: expected an array");
		json_array_foreach(v, i, e)
		{
			for (unsigned k = 0; k < 3; k++)
				if (json_is_string(e) &&
				    strcmp(json_string_value(e),
					   state_names[k]) == 0)
					r->name_state |= 1u << k;
		}
	}
	jident(&in, obj, "vat_id", &r->vat);
	jident(&in, obj, "tax_number", &r->taxno);
	if ((o = jobj(&in, obj, "tax_number", 0)) != NULL) {
		s = jstr(&in, o, ".tax_number", "land", 0);
		if (s[0] != '\0')
			kt_land_parse(s, &r->taxno_land);
	}
	jident(&in, obj, "w_idnr", &r->widnr);
	if ((o = jobj(&in, obj, "register", 0)) != NULL) {
		r->reg.raw = jstr(&in, o, ".register", "raw", 1);
		r->reg.court = jstr(&in, o, ".register", "court", 0);
		r->reg.court_id = jstr(&in, o, ".register", "court_id", 0);
		r->reg.court_known = jbool(&in, o, ".register", "court_known");
		r->reg.type = jstr(&in, o, ".register", "type", 0);
		r->reg.number = jstr(&in, o, ".register", "number", 0);
		r->reg.suffix = jstr(&in, o, ".register", "suffix", 0);
		r->reg.valid = jbool(&in, o, ".register", "valid");
		if (r->reg.court_known)
			kt_ident_court_lookup(r->reg.court, NULL, NULL,
					      &r->reg_land);
	}
	if ((o = jobj(&in, obj, "address", 0)) != NULL) {
		r->addr.street = jstr(&in, o, ".address", "street", 0);
		r->addr.street_key = jstr(&in, o, ".address", "street_key", 0);
		r->addr.house_number =
		    jstr(&in, o, ".address", "house_number", 0);
		r->addr.postcode = jstr(&in, o, ".address", "postcode", 0);
		r->addr.postcode_restored =
		    jbool(&in, o, ".address", "postcode_restored");
		r->addr.city = jstr(&in, o, ".address", "city", 0);
		r->addr.city_key = jstr(&in, o, ".address", "city_key", 0);
		r->addr.po_box = jbool(&in, o, ".address", "po_box");
	}
	if (!in.failed && (v = json_object_get(obj, "emails")) != NULL) {
		size_t i;
		json_t *e;
		if (!json_is_array(v) || json_array_size(v) > KT_REC_MAX_EMAILS)
			return kt_error_set(err, KT_ERR_INVALID,
					    "record: .emails: expected an "
					    "array of at most %d strings",
					    KT_REC_MAX_EMAILS);
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "record: .emails[%zu]: expected a string",
				    i);
			r->emails[r->n_emails++] =
			    ar_strdup(r, json_string_value(e));
		}
	}
	if ((o = jobj(&in, obj, "contact", 0)) != NULL) {
		r->contact.name = jstr(&in, o, ".contact", "name", 0);
		r->contact.name_key = jstr(&in, o, ".contact", "name_key", 0);
		r->contact.email = jstr(&in, o, ".contact", "email", 0);
		r->contact.email_valid =
		    jbool(&in, o, ".contact", "email_valid");
		r->contact.email_verified =
		    jbool(&in, o, ".contact", "email_verified");
		r->contact.password_hash =
		    jstr(&in, o, ".contact", "password_hash", 0);
		r->contact.role = jstr(&in, o, ".contact", "role", 0);
	}
	if (!in.failed && (v = json_object_get(obj, "issues")) != NULL) {
		size_t i;
		json_t *e;
		if (!json_is_array(v))
			return kt_error_set(err, KT_ERR_INVALID,
					    "record: .issues: expected an "
					    "array");
		json_array_foreach(v, i, e)
		{
			enum kt_field f;
			const char *fs, *rs;
			if (r->n_issues >= KT_REC_MAX_ISSUES)
				break;
			fs = json_string_value(json_object_get(e, "field"));
			rs = json_string_value(json_object_get(e, "reason"));
			if (fs == NULL || rs == NULL ||
			    kt_mapping_field_parse(fs, &f) != KT_OK)
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "record: .issues[%zu]: expected "
				    "{\"field\", \"reason\"}",
				    i);
			r->issues[r->n_issues].field = f;
			r->issues[r->n_issues].reason = ar_strdup(r, rs);
			r->n_issues++;
		}
	}
	if (in.failed)
		return err ? err->code : KT_ERR_INVALID;
	if (r->arena->oom)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	return KT_OK;
}

/* ---- matcher row ----------------------------------------------------------
 */

static const char *const match_cols[KT_REC_MATCH_NCOLS] = {
    "name_key", "legal_form", "vat",	"taxno",	"register",
    "postcode", "city",	      "street", "house_number", "email",
};

const char *kt_rec_match_column(size_t i)
{
	return i < KT_REC_MATCH_NCOLS ? match_cols[i] : "";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int kt_rec_match_row(struct kt_rec *r, const char *row[KT_REC_MATCH_NCOLS])
{
	char key[96];
	const char *mails[KT_REC_MAX_EMAILS + 1];
	size_t nm = 0, total = 0;

	row[0] = r->name.key;
	row[1] = kt_norm_lf_code(r->legal_form);
	if (r->vat.valid)
		row[2] = r->vat.norm;
	else if (r->widnr.valid)
		/* same 9-digit core = same entity (reference section 5) */
		row[2] = ar_strndup(r, r->widnr.norm, 11);
	else
		row[2] = "";
	row[3] = r->taxno.valid ? r->taxno.norm : "";
	row[4] = "";
	if (r->reg.valid && r->reg.court_known && r->reg.court_id[0]) {
		snprintf(key, sizeof(key), "%s|%s|%s%s%s", r->reg.court_id,
			 r->reg.type, r->reg.number,
			 r->reg.suffix[0] ? " " : "", r->reg.suffix);
		row[4] = ar_strdup(r, key);
	}
	row[5] = r->addr.postcode;
	row[6] = r->addr.city_key;
	row[7] = r->addr.street_key;
	row[8] = r->addr.house_number;

	/* lower-cased, unique, sorted */
	for (size_t i = 0; i <= r->n_emails; i++) {
		const char *e = i < r->n_emails		 ? r->emails[i]
				: r->contact.email_valid ? r->contact.email
							 : NULL;
		char *low;
		size_t k, n;

		if (e == NULL || e[0] == '\0')
			continue;
		n = strlen(e);
		if ((low = ar_alloc(r, n + 1)) == NULL)
			return KT_ERR_NOMEM;
		for (k = 0; k <= n; k++)
			low[k] = (e[k] >= 'A' && e[k] <= 'Z')
				     ? (char)(e[k] + 32)
				     : e[k];
		for (k = 0; k < nm; k++)
			if (strcmp(mails[k], low) == 0)
				break;
		if (k == nm) {
			mails[nm++] = low;
			total += n + 1;
		}
	}
	qsort(mails, nm, sizeof(mails[0]), cmp_str);
	if (nm == 0) {
		row[9] = "";
	} else {
		char *p = ar_alloc(r, total), *w = p;
		if (p == NULL)
			return KT_ERR_NOMEM;
		for (size_t i = 0; i < nm; i++) {
			size_t n = strlen(mails[i]);
			if (i)
				*w++ = ' ';
			memcpy(w, mails[i], n);
			w += n;
		}
		*w = '\0';
		row[9] = p;
	}
	return r->arena->oom ? KT_ERR_NOMEM : KT_OK;
}
