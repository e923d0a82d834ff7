/*
 * Golden records (survivorship), people across clusters, memberships.
 *
 * Records are copied into a compact form (strings in one arena), grouped
 * by cluster with a counting sort, and each unit is decided on its own:
 * field groups pick their winning record by the rules, valid identifiers
 * before invalid ones. People are grouped by lower-cased e-mail address
 * over all records first, because one person may act for several
 * companies; a group with a verified address becomes one person, and no
 * unverified address ever joins anything (see merge.h for why).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/land.h"
#include "kontor/merge.h"
#include "kontor/strmap.h"
#include "kontor/norm.h"
#include "kontor/util.h"

#define NONE UINT32_MAX
#define ARENA_CHUNK (1024 * 1024)
#define MAX_ROLE_NAMES 64
#define ROLE_NAME_MAX 64
#define PRIORITY_MAX 1000

/* ---- rules ---------------------------------------------------------- */

enum group {
	G_NAME,
	G_LEGAL_FORM,
	G_VAT,
	G_TAXNO,
	G_REGISTER,
	G_WID,
	G_ADDRESS,
	G_PERSON,
	G_COUNT
};

static const char *const group_names[G_COUNT] = {"name",    "legal_form", "vat",
						 "taxno",   "register",	  "wid",
						 "address", "person"};

enum key { K_CONFIRMED = 1, K_PRIORITY = 2 };

/* Roles by strength: the stronger wins when a person has several. */
enum { R_NONE = 0, R_REPRESENTATIVE = 1, R_MEMBER = 2, R_ADMIN = 3 };
static const char *const role_names[4] = {"", "representative", "member",
					  "admin"};

struct kt_merge_rules {
	int order[G_COUNT][2];
	unsigned norder[G_COUNT];
	int prio[G_COUNT][KT_LAND_COUNT + 1];
	char *roles[4][MAX_ROLE_NAMES]; /* folded spellings */
	unsigned nroles[4];
	int unknown_role;
	unsigned max_legacy;
};

static const char default_rules[] =
    "{\n"
    "  \"rules\": \"kontor-migrate survivorship rules, docs/migration.md\",\n"
    "  \"version\": 1,\n"
    "  \"order\": [\"confirmed_at\", \"source_priority\"],\n"
    "  \"source_priority\": {\n"
    "    \"BW\": 0, \"BY\": 0, \"BE\": 0, \"BB\": 0, \"HB\": 0, \"HH\": 0,\n"
    "    \"HE\": 0, \"MV\": 0, \"NI\": 0, \"NW\": 0, \"RP\": 0, \"SL\": 0,\n"
    "    \"SN\": 0, \"ST\": 0, \"SH\": 0, \"TH\": 0\n"
    "  },\n"
    "  \"groups\": {},\n"
    "  \"roles\": {\n"
    "    \"admin\": [\"admin\", \"administrator\", \"administratorin\",\n"
    "              \"hauptnutzer\", \"hauptnutzerin\", \"inhaber\",\n"
    "              \"inhaberin\", \"owner\", \"geschaeftsfuehrer\",\n"
    "              \"geschaeftsfuehrerin\"],\n"
    "    \"member\": [\"member\", \"user\", \"benutzer\", \"benutzerin\",\n"
    "               \"nutzer\", \"nutzerin\", \"mitnutzer\", \"mitnutzerin\",\n"
    "               \"mitarbeiter\", \"mitarbeiterin\"],\n"
    "    \"representative\": [\"representative\", \"bevollmaechtigter\",\n"
    "                       \"bevollmaechtigte\", \"vertreter\",\n"
    "                       \"vertreterin\", \"steuerberater\",\n"
    "                       \"steuerberaterin\"]\n"
    "  },\n"
    "  \"unknown_role\": \"member\",\n"
    "  \"max_legacy_hashes\": 16\n"
    "}\n";

const char *kt_merge_rules_default_json(void)
{
	return default_rules;
}

void kt_merge_rules_free(struct kt_merge_rules *r)
{
	if (r == NULL)
		return;
	for (int k = 0; k < 4; k++)
		for (unsigned i = 0; i < r->nroles[k]; i++)
			free(r->roles[k][i]);
	free(r);
}

static int rerr(struct kt_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rerr(struct kt_error *err, const char *path, const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_error_set(err, KT_ERR_INVALID, "rules: %s: %s", path, msg);
}

static int only_keys(json_t *o, const char *path, const char *const *keys,
		     struct kt_error *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return rerr(err, path, "must be an object");
	json_object_foreach(o, k, v)
	{
		size_t i;

		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], k) == 0)
				break;
		if (keys[i] == NULL)
			return rerr(err, path, "unknown key '%.64s'", k);
	}
	return KT_OK;
}

static int parse_order(json_t *v, const char *path, int order[2], unsigned *n,
		       struct kt_error *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) < 1 ||
	    json_array_size(v) > 2)
		return rerr(err, path,
			    "must list \"confirmed_at\" and/or "
			    "\"source_priority\"");
	*n = 0;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		int k = s == NULL			    ? 0
			: strcmp(s, "confirmed_at") == 0    ? K_CONFIRMED
			: strcmp(s, "source_priority") == 0 ? K_PRIORITY
							    : 0;

		if (k == 0)
			return rerr(err, path,
				    "[%zu]: expected \"confirmed_at\" or "
				    "\"source_priority\"",
				    i);
		if (*n == 1 && order[0] == k)
			return rerr(err, path, "[%zu]: named twice", i);
		order[(*n)++] = k;
	}
	return KT_OK;
}

static int parse_priority(json_t *v, const char *path,
			  int prio[KT_LAND_COUNT + 1], struct kt_error *err)
{
	const char *k;
	json_t *e;

	if (!json_is_object(v))
		return rerr(err, path, "must be an object of Land: number");
	json_object_foreach(v, k, e)
	{
		enum kt_land l;

		if (kt_land_parse(k, &l) != KT_OK)
			return rerr(err, path,
				    "%.16s: unknown Land code (one of %s)", k,
				    KT_LAND_CODES);
		if (!json_is_integer(e) ||
		    json_integer_value(e) < -PRIORITY_MAX ||
		    json_integer_value(e) > PRIORITY_MAX)
			return rerr(err, path,
				    "%.16s: must be an integer from %d to %d",
				    k, -PRIORITY_MAX, PRIORITY_MAX);
		prio[l] = (int)json_integer_value(e);
	}
	return KT_OK;
}

static int role_index(const char *s)
{
	for (int k = 1; k < 4; k++)
		if (s != NULL && strcmp(s, role_names[k]) == 0)
			return k;
	return 0;
}

static int parse_roles(struct kt_merge_rules *r, json_t *v,
		       struct kt_error *err)
{
	const char *k;
	json_t *list;

	if (!json_is_object(v))
		return rerr(err, ".roles",
			    "must be an object of role: [spellings]");
	json_object_foreach(v, k, list)
	{
		int role = role_index(k);
		size_t i;
		json_t *e;

		if (role == 0)
			return rerr(err, ".roles",
				    "unknown role '%.32s' (admin, member or "
				    "representative)",
				    k);
		if (!json_is_array(list) ||
		    json_array_size(list) > MAX_ROLE_NAMES)
			return rerr(err, ".roles",
				    "%s: must be an array of at most %d "
				    "strings",
				    k, MAX_ROLE_NAMES);
		json_array_foreach(list, i, e)
		{
			const char *s = json_string_value(e);
			char folded[ROLE_NAME_MAX * 2];

			if (s == NULL || *s == '\0' ||
			    strlen(s) > ROLE_NAME_MAX ||
			    kt_norm_fold(s, strlen(s), folded, sizeof(folded),
					 0) != KT_OK)
				return rerr(err, ".roles",
					    "%s[%zu]: must be 1 to %d bytes "
					    "of UTF-8",
					    k, i, ROLE_NAME_MAX);
			if ((r->roles[role][r->nroles[role]] =
				 strdup(folded)) == NULL)
				return kt_error_set(err, KT_ERR_NOMEM,
						    "out of memory");
			r->nroles[role]++;
		}
	}
	return KT_OK;
}

static int parse_rules(struct kt_merge_rules *r, json_t *root,
		       struct kt_error *err)
{
	static const char *const top[] = {
	    "rules",  "version", "order",	 "source_priority",
	    "groups", "roles",	 "unknown_role", "max_legacy_hashes",
	    NULL};
	static const char *const gkeys[] = {"order", "source_priority", NULL};
	json_t *v;
	int rc;

	if ((rc = only_keys(root, ".", top, err)) != KT_OK)
		return rc;
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return rerr(err, ".version", "must be 1");
	v = json_object_get(root, "rules");
	if (v != NULL && !json_is_string(v))
		return rerr(err, ".rules", "must be a string");
	r->order[0][0] = K_CONFIRMED;
	r->order[0][1] = K_PRIORITY;
	r->norder[0] = 2;
	if ((v = json_object_get(root, "order")) != NULL &&
	    (rc = parse_order(v, ".order", r->order[0], &r->norder[0], err)) !=
		KT_OK)
		return rc;
	if ((v = json_object_get(root, "source_priority")) != NULL &&
	    (rc = parse_priority(v, ".source_priority", r->prio[0], err)) !=
		KT_OK)
		return rc;
	for (int g = 1; g < G_COUNT; g++) {
		memcpy(r->order[g], r->order[0], sizeof(r->order[0]));
		r->norder[g] = r->norder[0];
		memcpy(r->prio[g], r->prio[0], sizeof(r->prio[0]));
	}
	if ((v = json_object_get(root, "groups")) != NULL) {
		const char *k;
		json_t *o;

		if (!json_is_object(v))
			return rerr(err, ".groups", "must be an object");
		json_object_foreach(v, k, o)
		{
			char path[96];
			int g;
			json_t *x;

			for (g = 0; g < G_COUNT; g++)
				if (strcmp(k, group_names[g]) == 0)
					break;
			if (g == G_COUNT)
				return rerr(err, ".groups",
					    "unknown group '%.32s' (name, "
					    "legal_form, vat, taxno, register, "
					    "wid, address, person)",
					    k);
			snprintf(path, sizeof(path), ".groups.%s", k);
			if ((rc = only_keys(o, path, gkeys, err)) != KT_OK)
				return rc;
			if ((x = json_object_get(o, "order")) != NULL) {
				snprintf(path, sizeof(path), ".groups.%s.order",
					 k);
				if ((rc = parse_order(x, path, r->order[g],
						      &r->norder[g], err)) !=
				    KT_OK)
					return rc;
			}
			if ((x = json_object_get(o, "source_priority")) !=
			    NULL) {
				snprintf(path, sizeof(path),
					 ".groups.%s.source_priority", k);
				if ((rc = parse_priority(x, path, r->prio[g],
							 err)) != KT_OK)
					return rc;
			}
		}
	}
	if ((v = json_object_get(root, "roles")) != NULL &&
	    (rc = parse_roles(r, v, err)) != KT_OK)
		return rc;
	r->unknown_role = R_MEMBER;
	if ((v = json_object_get(root, "unknown_role")) != NULL &&
	    (r->unknown_role = role_index(json_string_value(v))) == 0)
		return rerr(err, ".unknown_role",
			    "must be admin, member or representative");
	r->max_legacy = 16;
	if ((v = json_object_get(root, "max_legacy_hashes")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > KT_MERGE_MAX_LEGACY_HASHES)
			return rerr(err, ".max_legacy_hashes",
				    "must be an integer from 1 to %d",
				    KT_MERGE_MAX_LEGACY_HASHES);
		r->max_legacy = (unsigned)json_integer_value(v);
	}
	return KT_OK;
}

int kt_merge_rules_load_string(const char *json, struct kt_merge_rules **out,
			       struct kt_error *err)
{
	struct kt_merge_rules *r;
	json_error_t je;
	json_t *root;
	int rc;

	*out = NULL;
	if (strlen(json) > KT_MERGE_RULES_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "rules: larger than %d bytes",
				    KT_MERGE_RULES_MAX);
	root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "rules: line %d: %s",
				    je.line, je.text);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		json_decref(root);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	rc = parse_rules(r, root, err);
	json_decref(root);
	if (rc != KT_OK) {
		kt_merge_rules_free(r);
		return rc;
	}
	*out = r;
	return KT_OK;
}

int kt_merge_rules_load_file(const char *path, struct kt_merge_rules **out,
			     struct kt_error *err)
{
	FILE *f;
	char *buf;
	size_t n;
	int rc;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL)
		return kt_error_set(err, KT_ERR_IO, "rules: %s: cannot open",
				    path);
	if ((buf = malloc(KT_MERGE_RULES_MAX + 2)) == NULL) {
		fclose(f);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	n = fread(buf, 1, KT_MERGE_RULES_MAX + 1, f);
	fclose(f);
	if (n > KT_MERGE_RULES_MAX) {
		free(buf);
		return kt_error_set(err, KT_ERR_LIMIT,
				    "rules: %s: larger than %d bytes", path,
				    KT_MERGE_RULES_MAX);
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {
		free(buf);
		return kt_error_set(err, KT_ERR_INVALID,
				    "rules: %s: contains a NUL byte", path);
	}
	rc = kt_merge_rules_load_string(buf, out, err);
	free(buf);
	return rc;
}

static int role_of(const struct kt_merge_rules *r, const char *text, int *known)
{
	char folded[ROLE_NAME_MAX * 4];

	*known = 0;
	if (text == NULL || *text == '\0' || strlen(text) > ROLE_NAME_MAX * 2 ||
	    kt_norm_fold(text, strlen(text), folded, sizeof(folded), 0) !=
		KT_OK)
		return r->unknown_role;
	for (int k = 3; k >= 1; k--)
		for (unsigned i = 0; i < r->nroles[k]; i++)
			if (strcmp(r->roles[k][i], folded) == 0) {
				*known = 1;
				return k;
			}
	return r->unknown_role;
}

const char *kt_merge_rules_role(const struct kt_merge_rules *r,
				const char *text, int *known)
{
	int k;

	return role_names[role_of(r, text, known ? known : &k)];
}

/* ---- arena and string map ------------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct chunk *head;
	int oom;
};

static const char *ar_dup(struct arena *a, const char *s)
{
	size_t n;
	struct chunk *c = a->head;

	if (s == NULL || *s == '\0')
		return "";
	n = strlen(s) + 1;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		if ((c = malloc(sizeof(*c) + cap)) == NULL) {
			a->oom = 1;
			return "";
		}
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	memcpy(c->data + c->used, s, n);
	c->used += n;
	return c->data + c->used - n;
}

static void ar_free(struct arena *a)
{
	while (a->head != NULL) {
		struct chunk *n = a->head->next;

		free(a->head);
		a->head = n;
	}
}

/* ---- records -------------------------------------------------------- */

struct ident {
	const char *raw, *norm;
	int valid;
};

struct mrec {
	const char *id; /* "BY:100234" */
	uint32_t unit;
	uint32_t person; /* NONE: no person */
	enum kt_land land;
	const char *confirmed; /* "YYYY-MM-DD" or "" */
	const char *name, *lf;
	struct ident vat, taxno, wid;
	struct {
		const char *raw, *court, *court_id, *type, *number;
		int valid; /* parsed with a known court */
	} reg;
	const char *street, *house, *postcode, *city;
	const char *c_name, *c_email, *c_hash;
	int c_verified;
	int c_bad_email;	 /* an address was given but is not valid */
	const char *c_raw_email; /* as exported, for the report */
	uint8_t role;
};

struct person {
	const char *email;
	uint32_t lo, hi; /* its records in m->by_email[lo..hi) */
	uint32_t best;	 /* the record the name and password come from */
	int verified;
};

struct member {
	uint32_t person;
	uint8_t role;
};

struct unit {
	const char *key;     /* cluster label */
	uint32_t first, n;   /* records in m->order[first..first+n) */
	uint32_t mfirst, mn; /* memberships in m->members[...] */
	int conflicts;
};

struct kt_merge {
	const struct kt_merge_rules *rules;
	struct arena ar;
	struct mrec *recs;
	size_t nrecs, caprecs;
	struct kt_strmap ids, clusters; /* record id, cluster label -> index */
	struct unit *units;
	size_t nunits, capunits;
	uint32_t *order; /* record indices grouped by unit */
	uint32_t *by_email;
	struct person *people;
	size_t npeople;
	struct member *members;
	size_t nmembers;
	struct kt_merge_skipped *skipped;
	size_t nskipped, capskipped;
	struct kt_merge_summary sum;
	int finished;
};

int kt_merge_new(const struct kt_merge_rules *rules, struct kt_merge **out)
{
	struct kt_merge *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return KT_ERR_NOMEM;
	m->rules = rules;
	*out = m;
	return KT_OK;
}

void kt_merge_free(struct kt_merge *m)
{
	if (m == NULL)
		return;
	ar_free(&m->ar);
	free(m->recs);
	kt_strmap_free(&m->ids);
	kt_strmap_free(&m->clusters);
	free(m->units);
	free(m->order);
	free(m->by_email);
	free(m->people);
	free(m->members);
	free(m->skipped);
	free(m);
}

static void copy_ident(struct arena *a, struct ident *d,
		       const struct kt_rec_ident *s)
{
	d->raw = ar_dup(a, s->raw);
	d->norm = ar_dup(a, s->norm);
	d->valid = s->valid;
}

/* Source links end up inside Redis keys: no braces, no control
 * characters, no spaces (docs/data-model.md). */
static int source_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == '{' || *s == '}' ||
		    *s == 0x7f)
			return 0;
	return 1;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

int kt_merge_add(struct kt_merge *m, struct kt_rec *rec, const char *cluster,
		 struct kt_error *err)
{
	struct arena *a = &m->ar;
	struct mrec *r, *nr;
	char id[KT_REC_ACCOUNT_ID_MAX + 8];
	size_t unit;

	if (m->finished)
		return kt_error_set(err, KT_ERR_INVALID,
				    "merge: records after finish");
	kt_rec_id(rec, id, sizeof(id));
	if (!source_ok(id))
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: the account id cannot be a source "
				    "link (spaces, braces or control "
				    "characters)",
				    id);
	if (kt_strmap_get(&m->ids, id, NULL))
		return kt_error_set(err, KT_ERR_CONFLICT,
				    "%s: the record appears twice", id);
	if ((nr = kt_grow(m->recs, &m->caprecs, m->nrecs, sizeof(*nr),
			  4096)) == NULL)
		goto nomem;
	m->recs = nr;
	r = &m->recs[m->nrecs];
	memset(r, 0, sizeof(*r));
	r->id = ar_dup(a, id);
	if (kt_strmap_add(&m->ids, r->id, m->nrecs, NULL) < 0)
		goto nomem;

	/* the cluster's unit */
	if (!kt_strmap_get(&m->clusters, cluster, &unit)) {
		struct unit *nu = kt_grow(m->units, &m->capunits, m->nunits,
					  sizeof(*nu), 4096);

		if (nu == NULL)
			goto nomem;
		m->units = nu;
		memset(&m->units[m->nunits], 0, sizeof(m->units[0]));
		m->units[m->nunits].key = ar_dup(a, cluster);
		if (kt_strmap_add(&m->clusters, m->units[m->nunits].key,
				  m->nunits, NULL) < 0)
			goto nomem;
		unit = m->nunits++;
	}
	r->unit = (uint32_t)unit;
	if (++m->units[r->unit].n > KT_MERGE_MAX_CLUSTER)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "cluster %s: more than %d records", cluster,
				    KT_MERGE_MAX_CLUSTER);
	r->person = NONE;
	r->land = rec->land;
	r->confirmed = ar_dup(a, rec->confirmed_at);
	r->name = ar_dup(a, rec->name.display);
	r->lf = ar_dup(a, kt_norm_lf_code(rec->legal_form));
	copy_ident(a, &r->vat, &rec->vat);
	copy_ident(a, &r->taxno, &rec->taxno);
	copy_ident(a, &r->wid, &rec->widnr);
	r->reg.raw = ar_dup(a, rec->reg.raw);
	r->reg.court = ar_dup(a, rec->reg.court);
	r->reg.court_id =
	    ar_dup(a, rec->reg.court_known ? rec->reg.court_id : "");
	r->reg.type = ar_dup(a, rec->reg.type);
	if (rec->reg.suffix[0] != '\0') {
		char num[96];

		snprintf(num, sizeof(num), "%s %s", rec->reg.number,
			 rec->reg.suffix);
		r->reg.number = ar_dup(a, num);
	} else {
		r->reg.number = ar_dup(a, rec->reg.number);
	}
	r->reg.valid = rec->reg.valid && rec->reg.court_known &&
		       rec->reg.court_id[0] != '\0';
	r->street = ar_dup(a, rec->addr.street);
	r->house = ar_dup(a, rec->addr.house_number);
	r->postcode = ar_dup(a, rec->addr.postcode);
	r->city = ar_dup(a, rec->addr.city);
	r->c_name = ar_dup(a, rec->contact.name);
	r->c_hash = ar_dup(a, rec->contact.password_hash);
	r->c_verified = rec->contact.email_verified;
	if (rec->contact.email_valid && rec->contact.email[0] != '\0') {
		char low[320];

		snprintf(low, sizeof(low), "%s", rec->contact.email);
		lower(low);
		r->c_email = ar_dup(a, low);
	} else {
		r->c_email = "";
		/* a contact we cannot reach: reported, not migrated */
		r->c_bad_email = rec->contact.email[0] != '\0';
		r->c_raw_email = ar_dup(a, rec->contact.email);
		if (!r->c_bad_email && rec->contact.name[0] != '\0')
			m->sum.contacts_without_email++;
	}
	{
		int known;

		r->role = (uint8_t)role_of(m->rules, rec->contact.role, &known);
		if (!known && rec->contact.email[0] != '\0')
			m->sum.unknown_roles++;
	}
	if (a->oom)
		goto nomem;
	m->nrecs++;
	return KT_OK;
nomem:
	return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
}

/* ---- survivorship --------------------------------------------------- */

/* 1 if record a wins over b in group g (validity decided by the caller). */
static int wins(const struct kt_merge *m, int g, const struct mrec *a,
		const struct mrec *b)
{
	const struct kt_merge_rules *r = m->rules;

	for (unsigned i = 0; i < r->norder[g]; i++) {
		int c = 0;

		if (r->order[g][i] == K_CONFIRMED)
			c = strcmp(a->confirmed, b->confirmed);
		else
			c = r->prio[g][a->land] - r->prio[g][b->land];
		if (c != 0)
			return c > 0;
	}
	return strcmp(a->id, b->id) < 0;
}

static const struct ident *ident_of(const struct mrec *r, int g)
{
	return g == G_VAT ? &r->vat : g == G_TAXNO ? &r->taxno : &r->wid;
}

static int has_address(const struct mrec *r)
{
	return r->street[0] || r->postcode[0] || r->city[0];
}

static int address_complete(const struct mrec *r)
{
	return r->street[0] && r->postcode[0] && r->city[0];
}

/* The winning record of group g among the unit's records, or NONE. */
static uint32_t pick(const struct kt_merge *m, const struct unit *u, int g)
{
	uint32_t best = NONE;
	int best_valid = -1;

	for (uint32_t k = 0; k < u->n; k++) {
		uint32_t i = m->order[u->first + k];
		const struct mrec *r = &m->recs[i];
		int present, valid;

		switch (g) {
		case G_NAME:
			present = r->name[0] != '\0';
			valid = 1;
			break;
		case G_LEGAL_FORM:
			present = r->lf[0] != '\0';
			valid = 1;
			break;
		case G_REGISTER:
			present = r->reg.raw[0] != '\0';
			valid = r->reg.valid;
			break;
		case G_ADDRESS:
			present = has_address(r);
			valid = address_complete(r);
			break;
		default:
			present = ident_of(r, g)->raw[0] != '\0' ||
				  ident_of(r, g)->norm[0] != '\0';
			valid = ident_of(r, g)->valid;
			break;
		}
		if (!present)
			continue;
		if (best == NONE || valid > best_valid ||
		    (valid == best_valid && wins(m, g, r, &m->recs[best]))) {
			best = i;
			best_valid = valid;
		}
	}
	return best;
}

/* Several different valid values of one identifier in a unit: survivorship
 * keeps one; count the unit (cannot-link prevents it for strong ones). */
static int ident_conflict(const struct kt_merge *m, const struct unit *u, int g)
{
	char seen[256] = "", key[256];

	for (uint32_t k = 0; k < u->n; k++) {
		const struct mrec *r = &m->recs[m->order[u->first + k]];

		if (g == G_REGISTER) {
			if (!r->reg.valid)
				continue;
			snprintf(key, sizeof(key), "%s|%s|%s", r->reg.court_id,
				 r->reg.type, r->reg.number);
		} else {
			if (!ident_of(r, g)->valid)
				continue;
			snprintf(key, sizeof(key), "%s", ident_of(r, g)->norm);
		}
		if (seen[0] != '\0' && strcmp(seen, key) != 0)
			return 1;
		memcpy(seen, key, sizeof(seen));
	}
	return 0;
}

/* ---- people --------------------------------------------------------- */

static const struct kt_merge *sort_ctx;

static int email_cmp(const void *x, const void *y)
{
	const struct mrec *a = &sort_ctx->recs[*(const uint32_t *)x];
	const struct mrec *b = &sort_ctx->recs[*(const uint32_t *)y];
	int c = strcmp(a->c_email, b->c_email);

	if (c != 0)
		return c;
	return (*(const uint32_t *)x > *(const uint32_t *)y) -
	       (*(const uint32_t *)x < *(const uint32_t *)y);
}

static int skip(struct kt_merge *m, const struct mrec *r, const char *reason)
{
	struct kt_merge_skipped *ns = kt_grow(m->skipped, &m->capskipped,
					      m->nskipped, sizeof(*ns), 256);

	if (ns == NULL)
		return KT_ERR_NOMEM;
	m->skipped = ns;
	m->skipped[m->nskipped].source = r->id;
	m->skipped[m->nskipped].email =
	    r->c_bad_email ? r->c_raw_email : r->c_email;
	m->skipped[m->nskipped].reason = reason;
	m->skipped[m->nskipped].covered = 0;
	m->nskipped++;
	m->sum.contacts_skipped++;
	return KT_OK;
}

static int build_people(struct kt_merge *m)
{
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < m->nrecs; i++)
		if (m->recs[i].c_email[0] != '\0')
			n++;
	if ((m->by_email = malloc((n + 1) * sizeof(*m->by_email))) == NULL)
		return KT_ERR_NOMEM;
	n = 0;
	for (size_t i = 0; i < m->nrecs; i++) {
		struct mrec *r = &m->recs[i];

		if (r->c_email[0] != '\0') {
			m->by_email[n++] = (uint32_t)i;
		} else if (r->c_bad_email) {
			if (skip(m, r, "no valid e-mail address") != KT_OK)
				return KT_ERR_NOMEM;
		}
	}
	sort_ctx = m;
	if (n > 1)
		qsort(m->by_email, n, sizeof(*m->by_email), email_cmp);
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		const char *e = m->recs[m->by_email[lo]].c_email;
		uint32_t nver = 0, best = NONE;
		struct person *p;

		for (hi = lo;
		     hi < n && strcmp(m->recs[m->by_email[hi]].c_email, e) == 0;
		     hi++)
			nver += m->recs[m->by_email[hi]].c_verified != 0;
		if (nver == 0 && hi - lo > 1) {
			/* nobody proved the address: joining these accounts
			 * would hand one holder the other's companies */
			for (size_t k = lo; k < hi; k++)
				if (skip(m, &m->recs[m->by_email[k]],
					 "unverified e-mail address shared by "
					 "several accounts: not merged") !=
				    KT_OK)
					return KT_ERR_NOMEM;
			continue;
		}
		if (m->npeople == cap) {
			size_t nc = cap ? cap * 2 : 4096;
			struct person *np =
			    realloc(m->people, nc * sizeof(*np));

			if (np == NULL)
				return KT_ERR_NOMEM;
			m->people = np;
			cap = nc;
		}
		p = &m->people[m->npeople];
		p->email = e;
		p->lo = (uint32_t)lo;
		p->hi = (uint32_t)hi;
		p->verified = nver > 0;
		for (size_t k = lo; k < hi; k++) {
			struct mrec *r = &m->recs[m->by_email[k]];

			if (p->verified && !r->c_verified) {
				if (skip(m, r,
					 "unverified e-mail address of a "
					 "verified person: not merged into "
					 "it") != KT_OK)
					return KT_ERR_NOMEM;
				continue;
			}
			r->person = (uint32_t)m->npeople;
			if (best == NONE ||
			    wins(m, G_PERSON, r, &m->recs[best]))
				best = m->by_email[k];
		}
		p->best = best;
		m->npeople++;
		m->sum.people++;
		m->sum.people_unverified += !p->verified;
		m->sum.people_multi_source += nver > 1;
	}
	return KT_OK;
}

/* ---- finish --------------------------------------------------------- */

static int member_cmp(const void *x, const void *y)
{
	const struct member *a = x, *b = y;

	return strcmp(sort_ctx->people[a->person].email,
		      sort_ctx->people[b->person].email);
}

int kt_merge_finish(struct kt_merge *m, struct kt_error *err)
{
	uint32_t *fill = NULL;
	size_t cap = 0;

	if (m->finished)
		return kt_error_set(err, KT_ERR_INVALID, "merge: finished");
	m->finished = 1;
	/* records grouped by unit, in file order within each */
	m->order = malloc((m->nrecs + 1) * sizeof(*m->order));
	fill = calloc(m->nunits + 1, sizeof(*fill));
	if (m->order == NULL || fill == NULL)
		goto nomem;
	for (size_t u = 0, acc = 0; u < m->nunits; u++) {
		m->units[u].first = (uint32_t)acc;
		acc += m->units[u].n;
	}
	for (size_t i = 0; i < m->nrecs; i++) {
		struct unit *u = &m->units[m->recs[i].unit];

		m->order[u->first + fill[m->recs[i].unit]++] = (uint32_t)i;
	}
	free(fill);
	fill = NULL;
	if (build_people(m) != KT_OK)
		goto nomem;
	/* memberships: per unit, per person the strongest role */
	for (size_t ui = 0; ui < m->nunits; ui++) {
		struct unit *u = &m->units[ui];

		u->mfirst = (uint32_t)m->nmembers;
		for (uint32_t k = 0; k < u->n; k++) {
			const struct mrec *r = &m->recs[m->order[u->first + k]];
			size_t j;

			if (r->person == NONE)
				continue;
			for (j = u->mfirst; j < m->nmembers; j++)
				if (m->members[j].person == r->person)
					break;
			if (j == m->nmembers) {
				if (m->nmembers == cap) {
					size_t nc = cap ? cap * 2 : 4096;
					struct member *nm = realloc(
					    m->members, nc * sizeof(*nm));

					if (nm == NULL)
						goto nomem;
					m->members = nm;
					cap = nc;
				}
				m->members[j].person = r->person;
				m->members[j].role = r->role;
				m->nmembers++;
			} else if (r->role > m->members[j].role) {
				m->members[j].role = r->role;
			}
		}
		u->mn = (uint32_t)(m->nmembers - u->mfirst);
		sort_ctx = m;
		if (u->mn > 1)
			qsort(m->members + u->mfirst, u->mn,
			      sizeof(m->members[0]), member_cmp);
		for (int g = G_VAT; g <= G_WID; g++)
			u->conflicts += ident_conflict(m, u, g);
		m->sum.identifier_conflicts += u->conflicts > 0;
	}
	/* a skipped unverified duplicate whose person is a member anyway */
	for (size_t i = 0; i < m->nskipped; i++) {
		struct kt_merge_skipped *s = &m->skipped[i];
		size_t idx;
		const struct mrec *r;
		const struct unit *u;

		if (!kt_strmap_get(&m->ids, s->source, &idx))
			continue;
		r = &m->recs[idx];
		u = &m->units[r->unit];
		if (r->c_email[0] == '\0')
			continue;
		for (uint32_t j = 0; j < u->mn; j++)
			if (strcmp(m->people[m->members[u->mfirst + j].person]
				       .email,
				   r->c_email) == 0)
				s->covered = 1;
	}
	m->sum.records = m->nrecs;
	m->sum.clusters = m->sum.orgs = m->nunits;
	m->sum.memberships = m->nmembers;
	for (size_t u = 0; u < m->nunits; u++)
		if (m->units[u].n > 1) {
			m->sum.multi_clusters++;
			m->sum.records_merged += m->units[u].n;
		}
	for (size_t p = 0; p < m->npeople; p++) {
		unsigned h = 0;

		for (uint32_t k = m->people[p].lo; k < m->people[p].hi; k++) {
			const struct mrec *r = &m->recs[m->by_email[k]];

			if (r->person == p && r->c_hash[0] != '\0' &&
			    h < m->rules->max_legacy)
				h++;
		}
		m->sum.legacy_hashes += h;
	}
	return KT_OK;
nomem:
	free(fill);
	return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
}

size_t kt_merge_nunits(const struct kt_merge *m)
{
	return m->nunits;
}

static void put(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v ? v : ""));
}

/* Values from the exports land in Redis hashes and, for identifiers,
 * keys: the model refuses braces (they would move the hash tag). */
static const char *clean(char *buf, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		buf[i] = s[i] == '{' ? '(' : s[i] == '}' ? ')' : s[i];
	buf[i] = '\0';
	return buf;
}

static void put_clean(json_t *o, const char *k, const char *v)
{
	char buf[1100];

	put(o, k, clean(buf, sizeof(buf), v ? v : ""));
}

static json_t *org_json(const struct kt_merge *m, const struct unit *u,
			json_t *prov)
{
	json_t *o = json_object();
	uint32_t w;

	w = pick(m, u, G_NAME);
	put_clean(o, "legal_name", m->recs[w].name);
	json_object_set_new(prov, "legal_name", json_string(m->recs[w].id));
	if ((w = pick(m, u, G_LEGAL_FORM)) != NONE) {
		put(o, "legal_form", m->recs[w].lf);
		json_object_set_new(prov, "legal_form",
				    json_string(m->recs[w].id));
	}
	for (int g = G_VAT; g <= G_WID; g++) {
		static const char *const key[] = {"vat", "taxno", "register",
						  "wid"};
		const char *k = key[g - G_VAT];
		char flag[16];

		if (g == G_REGISTER || (w = pick(m, u, g)) == NONE)
			continue;
		snprintf(flag, sizeof(flag), "%s_valid", k);
		{
			const struct ident *id = ident_of(&m->recs[w], g);

			put_clean(o, k,
				  id->valid || id->norm[0] ? id->norm
							   : id->raw);
			put(o, flag, id->valid ? "1" : "0");
		}
		json_object_set_new(prov, k, json_string(m->recs[w].id));
	}
	if ((w = pick(m, u, G_REGISTER)) != NONE) {
		const struct mrec *r = &m->recs[w];

		put_clean(o, "hr_raw", r->reg.raw);
		put_clean(o, "hr_court",
			  r->reg.valid ? r->reg.court_id : r->reg.court);
		put_clean(o, "hr_court_name", r->reg.valid ? r->reg.court : "");
		put_clean(o, "hr_type", r->reg.type);
		put_clean(o, "hr_number", r->reg.number);
		put(o, "hr_valid", r->reg.valid ? "1" : "0");
		json_object_set_new(prov, "register", json_string(r->id));
	}
	if ((w = pick(m, u, G_ADDRESS)) != NONE) {
		const struct mrec *r = &m->recs[w];

		put_clean(o, "street", r->street);
		put_clean(o, "house_number", r->house);
		put_clean(o, "postcode", r->postcode);
		put_clean(o, "city", r->city);
		put(o, "country", "DE");
		json_object_set_new(prov, "address", json_string(r->id));
	}
	/* no empty strings: an absent field is absent */
	{
		const char *k;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(o, tmp, k,
					 v) if (json_string_length(v) == 0)
		    json_object_del(o, k);
	}
	return o;
}

static json_t *person_json(const struct kt_merge *m, uint32_t pi, uint8_t role)
{
	const struct person *p = &m->people[pi];
	const struct mrec *best = &m->recs[p->best];
	json_t *o = json_object(), *legacy = json_object(),
	       *sources = json_array();
	const char *pw = "";
	uint32_t pw_from = NONE;
	unsigned nh = 0;

	put(o, "email", p->email);
	put_clean(o, "name", best->c_name);
	put(o, "email_verified", p->verified ? "1" : "0");
	/* the sources in survivorship order would need a sort; file order
	 * is stable and the password comes from the best one with a hash */
	for (uint32_t k = p->lo; k < p->hi; k++) {
		const struct mrec *r = &m->recs[m->by_email[k]];

		if (r->person != pi)
			continue;
		json_array_append_new(sources, json_string(r->id));
		if (r->c_hash[0] == '\0')
			continue;
		if (nh < m->rules->max_legacy) {
			char field[128];

			snprintf(field, sizeof(field), "%s", r->id);
			json_object_set_new(legacy, field,
					    json_string(r->c_hash));
			nh++;
		}
		if (pw_from == NONE ||
		    wins(m, G_PERSON, r, &m->recs[pw_from])) {
			pw_from = m->by_email[k];
			pw = r->c_hash;
		}
	}
	if (pw[0] != '\0')
		put(o, "pwhash", pw);
	json_object_set_new(o, "legacy", legacy);
	json_object_set_new(o, "sources", sources);
	put(o, "role", role_names[role]);
	return o;
}

json_t *kt_merge_unit_json(const struct kt_merge *m, size_t i)
{
	const struct unit *u;
	json_t *o, *sources, *people, *prov;

	if (!m->finished || i >= m->nunits)
		return NULL;
	u = &m->units[i];
	o = json_object();
	sources = json_array();
	people = json_array();
	prov = json_object();
	if (o == NULL || sources == NULL || people == NULL || prov == NULL) {
		json_decref(o);
		json_decref(sources);
		json_decref(people);
		json_decref(prov);
		return NULL;
	}
	put(o, "unit", u->key);
	json_object_set_new(o, "org", org_json(m, u, prov));
	for (uint32_t k = 0; k < u->n; k++)
		json_array_append_new(
		    sources, json_string(m->recs[m->order[u->first + k]].id));
	json_object_set_new(o, "sources", sources);
	for (uint32_t j = 0; j < u->mn; j++) {
		const struct member *mb = &m->members[u->mfirst + j];

		json_array_append_new(people,
				      person_json(m, mb->person, mb->role));
	}
	json_object_set_new(o, "people", people);
	json_object_set_new(o, "provenance", prov);
	if (u->conflicts)
		json_object_set_new(o, "identifier_conflicts",
				    json_integer(u->conflicts));
	return o;
}

size_t kt_merge_nskipped(const struct kt_merge *m)
{
	return m->nskipped;
}

const struct kt_merge_skipped *kt_merge_skipped_at(const struct kt_merge *m,
						   size_t i)
{
	return i < m->nskipped ? &m->skipped[i] : NULL;
}

void kt_merge_summary_get(const struct kt_merge *m, struct kt_merge_summary *s)
{
	*s = m->sum;
}

json_t *kt_merge_summary_json(const struct kt_merge_summary *s)
{
#define J(x) json_integer((json_int_t)(x))
	return json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}",
	    "records", J(s->records), "clusters", J(s->clusters),
	    "clusters_merged", J(s->multi_clusters), "records_merged",
	    J(s->records_merged), "orgs", J(s->orgs), "people", J(s->people),
	    "people_from_several_sources", J(s->people_multi_source),
	    "people_unverified", J(s->people_unverified), "memberships",
	    J(s->memberships), "legacy_hashes", J(s->legacy_hashes),
	    "unknown_roles", J(s->unknown_roles), "contacts_without_email",
	    J(s->contacts_without_email), "contacts_skipped",
	    J(s->contacts_skipped), "units_with_identifier_conflicts",
	    J(s->identifier_conflicts));
#undef J
}

static void csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	putc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', out);
		putc(*s, out);
	}
	putc('"', out);
}

int kt_merge_write_skipped(const struct kt_merge *m, FILE *out)
{
	fputs("source,email,reason,covered\n", out);
	for (size_t i = 0; i < m->nskipped; i++) {
		const struct kt_merge_skipped *s = &m->skipped[i];

		csv_field(out, s->source);
		putc(',', out);
		csv_field(out, s->email);
		putc(',', out);
		csv_field(out, s->reason);
		fprintf(out, ",%s\n", s->covered ? "yes" : "no");
	}
	return ferror(out) ? KT_ERR_IO : KT_OK;
}
