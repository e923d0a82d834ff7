#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/strsim.h"
#include "match_int.h"

/*
 * Profile loading. Every message names the JSON path of the offending
 * value ("profile: .blocking.passes[1].keys[0][0].field: unknown field
 * 'plz'"), so that an admin editing a profile never has to guess. Keys are
 * checked against a per-object list first, then each value for type and
 * bounds, then the cross-references (fields named by passes).
 */

#define PATH_MAX_LEN 160

static int perr(struct kt_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct kt_error *err, const char *path, const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_error_set(err, KT_ERR_INVALID, "profile: %s: %s",
			    path[0] != '\0' ? path : ".", msg);
}

/* Paths are bounded by the nesting of the format, never by the input
 * beyond one key; a truncated path is still a useful message. */
static void sub_key(char *out, const char *path, const char *key)
{
	if (snprintf(out, PATH_MAX_LEN, "%s.%s", path, key) >= PATH_MAX_LEN)
		out[PATH_MAX_LEN - 1] = '\0';
}

static void sub_idx(char *out, const char *path, size_t i)
{
	if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i) >= PATH_MAX_LEN)
		out[PATH_MAX_LEN - 1] = '\0';
}

static int check_keys(json_t *o, const char *path, const char *const *allowed,
		      struct kt_error *err)
{
	const char *key;
	json_t *v;
	char sub[PATH_MAX_LEN];

	if (!json_is_object(o))
		return perr(err, path, "must be an object");
	json_object_foreach(o, key, v)
	{
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			sub_key(sub, path, key);
			return perr(err, sub, "unknown key");
		}
	}
	return KT_OK;
}

/*
 * The value at key: 1 and *v when present; 0 when absent and optional;
 * an error when absent and required. sub gets the key's path.
 */
static int lookup(json_t *o, const char *path, const char *key, int required,
		  json_t **v, char *sub, struct kt_error *err)
{
	sub_key(sub, path, key);
	*v = json_object_get(o, key);
	if (*v != NULL)
		return 1;
	return required ? perr(err, sub, "required") : 0;
}

static int get_int(json_t *o, const char *path, const char *key, long long min,
		   long long max, long long def, int required, long long *out,
		   struct kt_error *err)
{
	char sub[PATH_MAX_LEN];
	json_t *v;
	int r = lookup(o, path, key, required, &v, sub, err);

	*out = def;
	if (r <= 0)
		return r;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return perr(err, sub, "must be an integer from %lld to %lld",
			    min, max);
	*out = json_integer_value(v);
	return KT_OK;
}

static int get_num(json_t *o, const char *path, const char *key, double min,
		   double max, double def, int required, double *out,
		   struct kt_error *err)
{
	char sub[PATH_MAX_LEN];
	json_t *v;
	int r = lookup(o, path, key, required, &v, sub, err);

	*out = def;
	if (r <= 0)
		return r;
	if (!json_is_number(v) || json_number_value(v) < min ||
	    json_number_value(v) > max)
		return perr(err, sub, "must be a number from %g to %g", min,
			    max);
	*out = json_number_value(v);
	return KT_OK;
}

static int get_bool(json_t *o, const char *path, const char *key, int *out,
		    struct kt_error *err)
{
	json_t *v = json_object_get(o, key);
	char sub[PATH_MAX_LEN];

	*out = 0;
	if (v == NULL)
		return KT_OK;
	if (!json_is_boolean(v)) {
		sub_key(sub, path, key);
		return perr(err, sub, "must be true or false");
	}
	*out = json_is_true(v);
	return KT_OK;
}

/* A name: [a-z][a-z0-9_]*, 1..32 characters. */
static int get_name(json_t *o, const char *path, const char *key, char *out,
		    struct kt_error *err)
{
	json_t *v = json_object_get(o, key);
	char sub[PATH_MAX_LEN];
	const char *s;
	size_t n;

	sub_key(sub, path, key);
	if (v == NULL)
		return perr(err, sub, "required");
	if (!json_is_string(v))
		return perr(err, sub, "must be a string");
	s = json_string_value(v);
	n = strlen(s);
	if (n == 0 || n > KTM_NAME_MAX || s[0] < 'a' || s[0] > 'z' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return perr(err, sub,
			    "must match [a-z][a-z0-9_]*, at most %d characters",
			    KTM_NAME_MAX);
	memcpy(out, s, n + 1);
	return KT_OK;
}

/* Index of choice, or -1 with an error naming what was given. */
static int get_enum(json_t *o, const char *path, const char *key,
		    const char *what, const char *const *choices, int def,
		    int *out, struct kt_error *err)
{
	json_t *v = json_object_get(o, key);
	char sub[PATH_MAX_LEN];

	sub_key(sub, path, key);
	if (v == NULL) {
		if (def < 0)
			return perr(err, sub, "required");
		*out = def;
		return KT_OK;
	}
	if (!json_is_string(v))
		return perr(err, sub, "must be a string");
	for (int i = 0; choices[i] != NULL; i++) {
		if (strcmp(choices[i], json_string_value(v)) == 0) {
			*out = i;
			return KT_OK;
		}
	}
	return perr(err, sub, "unknown %s '%.64s'", what, json_string_value(v));
}

static int field_by_name(const struct kt_match_profile *p, json_t *o,
			 const char *path, const char *key, unsigned *out,
			 struct kt_error *err)
{
	json_t *v = json_object_get(o, key);
	char sub[PATH_MAX_LEN];

	sub_key(sub, path, key);
	if (v == NULL)
		return perr(err, sub, "required");
	if (!json_is_string(v))
		return perr(err, sub, "must be a string");
	for (unsigned f = 0; f < p->nfields; f++) {
		if (strcmp(p->fields[f].name, json_string_value(v)) == 0) {
			*out = f;
			return KT_OK;
		}
	}
	return perr(err, sub, "unknown field '%.64s'", json_string_value(v));
}

static const char *const cmp_names[] = {
    "exact",	  "jaro_winkler", "token_set", "numeric",
    "identifier", "levenshtein",  NULL,
};

static void level_name(struct ktm_field *fd, unsigned level, const char *op,
		       double v)
{
	snprintf(fd->level_names[level], KTM_LEVEL_NAME_MAX, "%s%g", op, v);
}

/* The levels of a field, in order from the strongest agreement down. */
static void make_levels(struct ktm_field *fd)
{
	unsigned l = 0;

	snprintf(fd->level_names[l++], KTM_LEVEL_NAME_MAX, "%s",
		 fd->cmp == KTM_CMP_IDENTIFIER ? "missing/invalid" : "missing");
	if (fd->cmp == KTM_CMP_IDENTIFIER) {
		snprintf(fd->level_names[l++], KTM_LEVEL_NAME_MAX, "agree");
		snprintf(fd->level_names[l++], KTM_LEVEL_NAME_MAX, "disagree");
		if (fd->scope_parts > 0)
			snprintf(fd->level_names[l++], KTM_LEVEL_NAME_MAX,
				 "other_scope");
		fd->nlevels = l;
		return;
	}
	if (fd->cmp != KTM_CMP_NUMERIC)
		snprintf(fd->level_names[l++], KTM_LEVEL_NAME_MAX, "exact");
	for (unsigned i = 0; i < fd->nbands; i++, l++) {
		switch (fd->cmp) {
		case KTM_CMP_JARO_WINKLER:
			level_name(fd, l, "jw>=", fd->bands[i]);
			break;
		case KTM_CMP_TOKEN_SET:
			level_name(fd, l,
				   fd->containment ? "contain>=" : "jaccard>=",
				   fd->bands[i]);
			break;
		case KTM_CMP_NUMERIC:
			level_name(fd, l, "diff<=", fd->bands[i]);
			break;
		default:
			level_name(fd, l, "lev<=", fd->bands[i]);
			break;
		}
	}
	snprintf(fd->level_names[l++], KTM_LEVEL_NAME_MAX, "else");
	fd->nlevels = l;
}

static int parse_bands(json_t *o, const char *path, struct ktm_field *fd,
		       struct kt_error *err)
{
	json_t *bands = json_object_get(o, "bands");
	char sub[PATH_MAX_LEN];
	const char *rule;
	int needs =
	    fd->cmp == KTM_CMP_JARO_WINKLER || fd->cmp == KTM_CMP_TOKEN_SET ||
	    fd->cmp == KTM_CMP_NUMERIC || fd->cmp == KTM_CMP_LEVENSHTEIN;
	size_t i;
	json_t *v;

	sub_key(sub, path, "bands");
	if (!needs) {
		if (bands != NULL)
			return perr(err, sub, "not used by comparison '%s'",
				    cmp_names[fd->cmp]);
		return KT_OK;
	}
	switch (fd->cmp) {
	case KTM_CMP_NUMERIC:
		rule = "numbers >= 0, strictly increasing";
		break;
	case KTM_CMP_LEVENSHTEIN:
		rule = "integers from 1 to 256, strictly increasing";
		break;
	default:
		rule = "numbers in (0, 1], strictly decreasing";
		break;
	}
	if (bands == NULL)
		return perr(err, sub, "required");
	if (!json_is_array(bands) || json_array_size(bands) < 1 ||
	    json_array_size(bands) > KTM_MAX_BANDS)
		return perr(err, sub, "must be 1 to %d %s", KTM_MAX_BANDS,
			    rule);
	json_array_foreach(bands, i, v)
	{
		double x = json_is_number(v) ? json_number_value(v) : NAN;
		int ok;

		switch (fd->cmp) {
		case KTM_CMP_NUMERIC:
			ok = x >= 0 && x <= 1e15 &&
			     (i == 0 || x > fd->bands[i - 1]);
			break;
		case KTM_CMP_LEVENSHTEIN:
			ok = json_is_integer(v) && x >= 1 &&
			     x <= KT_STRSIM_MAX_CP &&
			     (i == 0 || x > fd->bands[i - 1]);
			break;
		default:
			ok =
			    x > 0 && x <= 1 && (i == 0 || x < fd->bands[i - 1]);
			break;
		}
		if (!ok) {
			char el[PATH_MAX_LEN];

			sub_idx(el, sub, i);
			return perr(err, el, "bands must be %s", rule);
		}
		fd->bands[i] = x;
	}
	fd->nbands = (unsigned)json_array_size(bands);
	return KT_OK;
}

static int parse_tf(json_t *o, const char *path, struct ktm_field *fd,
		    struct kt_error *err);
static int parse_fixed_m(json_t *o, const char *path, struct ktm_field *fd,
			 struct kt_error *err);

static int parse_field(struct kt_match_profile *p, json_t *o, const char *path,
		       struct ktm_field *fd, struct kt_error *err)
{
	static const char *const keys[] = {
	    "name",	 "comparison",	"bands",     "measure",
	    "strong",	 "scope_parts", "separator", "group",
	    "tf_adjust", "fixed_m",	NULL,
	};
	static const char *const measures[] = {"jaccard", "containment", NULL};
	char sub[PATH_MAX_LEN];
	int cmp, measure;
	long long scope = 0;
	json_t *sep;
	int r;

	if ((r = check_keys(o, path, keys, err)) != KT_OK ||
	    (r = get_name(o, path, "name", fd->name, err)) != KT_OK)
		return r;
	for (unsigned f = 0; f < p->nfields; f++) {
		if (strcmp(p->fields[f].name, fd->name) == 0) {
			sub_key(sub, path, "name");
			return perr(err, sub, "duplicate field '%s'", fd->name);
		}
	}
	if ((r = get_enum(o, path, "comparison", "comparison", cmp_names, -1,
			  &cmp, err)) != KT_OK)
		return r;
	fd->cmp = (enum ktm_cmp)cmp;
	if ((r = parse_bands(o, path, fd, err)) != KT_OK)
		return r;
	if (fd->cmp != KTM_CMP_TOKEN_SET &&
	    json_object_get(o, "measure") != NULL) {
		sub_key(sub, path, "measure");
		return perr(err, sub, "only for comparison 'token_set'");
	}
	if ((r = get_enum(o, path, "measure", "measure", measures, 0, &measure,
			  err)) != KT_OK)
		return r;
	fd->containment = measure == 1;
	if (fd->cmp != KTM_CMP_IDENTIFIER) {
		static const char *const id_only[] = {"strong", "scope_parts",
						      "separator"};

		for (size_t i = 0; i < 3; i++) {
			if (json_object_get(o, id_only[i]) != NULL) {
				sub_key(sub, path, id_only[i]);
				return perr(err, sub,
					    "only for comparison 'identifier'");
			}
		}
	}
	if ((r = get_bool(o, path, "strong", &fd->strong, err)) != KT_OK ||
	    (r = get_int(o, path, "scope_parts", 0, 7, 0, 0, &scope, err)) !=
		KT_OK)
		return r;
	fd->scope_parts = (unsigned)scope;
	fd->sep = '|';
	sep = json_object_get(o, "separator");
	if (sep != NULL) {
		if (!json_is_string(sep) ||
		    strlen(json_string_value(sep)) != 1 ||
		    (unsigned char)json_string_value(sep)[0] < 0x21 ||
		    (unsigned char)json_string_value(sep)[0] > 0x7e) {
			sub_key(sub, path, "separator");
			return perr(err, sub,
				    "must be one printable ASCII character");
		}
		fd->sep = json_string_value(sep)[0];
	}
	make_levels(fd);
	fd->group = -1;
	if (json_object_get(o, "group") != NULL) {
		char gname[KTM_NAME_MAX + 1];
		unsigned g;

		if ((r = get_name(o, path, "group", gname, err)) != KT_OK)
			return r;
		for (g = 0; g < p->ngroups; g++)
			if (strcmp(p->group_names[g], gname) == 0)
				break;
		if (g == p->ngroups) {
			if (g == KT_MATCH_MAX_GROUPS) {
				sub_key(sub, path, "group");
				return perr(err, sub, "more than %d groups",
					    KT_MATCH_MAX_GROUPS);
			}
			memcpy(p->group_names[g], gname, sizeof(gname));
			p->ngroups++;
		}
		fd->group = (int)g;
	}
	if ((r = parse_tf(o, path, fd, err)) != KT_OK)
		return r;
	return parse_fixed_m(o, path, fd, err);
}

/*
 * "fixed_m": {"disagree": 0.001}: levels whose m EM does not estimate
 * (docs/matching.md). Names must be levels of the field other than the
 * missing one; the fixed values must leave room for the others.
 */
static int parse_fixed_m(json_t *o, const char *path, struct ktm_field *fd,
			 struct kt_error *err)
{
	json_t *fx = json_object_get(o, "fixed_m"), *v;
	char sub[PATH_MAX_LEN], el[PATH_MAX_LEN];
	const char *key;
	double sum = 0;

	memset(fd->m_fixed, 0, sizeof(fd->m_fixed));
	if (fx == NULL)
		return KT_OK;
	sub_key(sub, path, "fixed_m");
	if (!json_is_object(fx))
		return perr(err, sub, "must be an object of level: m");
	if (fd->group >= 0)
		return perr(err, sub, "not for a field in a group");
	json_object_foreach(fx, key, v)
	{
		unsigned l;

		sub_key(el, sub, key);
		for (l = 1; l < fd->nlevels; l++)
			if (strcmp(fd->level_names[l], key) == 0)
				break;
		if (l == fd->nlevels)
			return perr(err, el, "not a level of field '%s'",
				    fd->name);
		if (!json_is_number(v) || json_number_value(v) <= 0 ||
		    json_number_value(v) >= 1)
			return perr(err, el, "must be a number in (0, 1)");
		fd->m_fixed[l] = json_number_value(v);
		sum += fd->m_fixed[l];
	}
	if (sum >= 1 || json_object_size(fx) >= fd->nlevels - 1)
		return perr(err, sub,
			    "must leave at least one level free and their sum "
			    "below 1");
	return KT_OK;
}

/*
 * "tf_adjust": true, or {"max_up": U, "max_down": D}: term-frequency
 * adjustment of an exact agreement (docs/matching.md). Only for fields
 * scored alone whose first level is "exact".
 */
static int parse_tf(json_t *o, const char *path, struct ktm_field *fd,
		    struct kt_error *err)
{
	static const char *const keys[] = {"max_up", "max_down", NULL};
	json_t *v = json_object_get(o, "tf_adjust");
	char sub[PATH_MAX_LEN];
	int r;

	fd->tf = 0;
	fd->tf_max_up = KTM_TF_MAX_UP;
	fd->tf_max_down = KTM_TF_MAX_DOWN;
	if (v == NULL || json_is_false(v))
		return KT_OK;
	sub_key(sub, path, "tf_adjust");
	if (fd->cmp == KTM_CMP_IDENTIFIER || fd->cmp == KTM_CMP_NUMERIC)
		return perr(err, sub,
			    "only for comparisons with an 'exact' level");
	if (fd->group >= 0)
		return perr(err, sub, "not for a field in a group");
	if (json_is_object(v)) {
		if ((r = check_keys(v, sub, keys, err)) != KT_OK ||
		    (r = get_num(v, sub, "max_up", 0, 20, KTM_TF_MAX_UP, 0,
				 &fd->tf_max_up, err)) != KT_OK ||
		    (r = get_num(v, sub, "max_down", 0, 20, KTM_TF_MAX_DOWN, 0,
				 &fd->tf_max_down, err)) != KT_OK)
			return r;
	} else if (!json_is_true(v)) {
		return perr(err, sub,
			    "must be true, false or {\"max_up\", "
			    "\"max_down\"}");
	}
	fd->tf = 1;
	return KT_OK;
}

/* Every group has two fields or more and few enough combinations. */
static int check_groups(const struct kt_match_profile *p, struct kt_error *err)
{
	for (unsigned g = 0; g < p->ngroups; g++) {
		unsigned members = 0, combos = 1, last = 0;
		char path[PATH_MAX_LEN];

		for (unsigned f = 0; f < p->nfields; f++) {
			if (p->fields[f].group != (int)g)
				continue;
			members++;
			last = f;
			combos *= p->fields[f].nlevels;
			if (combos > KT_MATCH_MAX_COMBOS) {
				snprintf(path, sizeof(path),
					 ".fields[%u].group", f);
				return perr(err, path,
					    "group '%s' has more than %d level "
					    "combinations",
					    p->group_names[g],
					    KT_MATCH_MAX_COMBOS);
			}
		}
		if (members < 2) {
			snprintf(path, sizeof(path), ".fields[%u].group", last);
			return perr(err, path, "group '%s' has only one field",
				    p->group_names[g]);
		}
	}
	return KT_OK;
}

static int parse_fields(struct kt_match_profile *p, json_t *root,
			struct kt_error *err)
{
	json_t *fields = json_object_get(root, "fields");
	char path[PATH_MAX_LEN];
	size_t i;
	json_t *v;
	int r;

	if (fields == NULL)
		return perr(err, ".fields", "required");
	if (!json_is_array(fields) || json_array_size(fields) < 1 ||
	    json_array_size(fields) > KT_MATCH_MAX_FIELDS)
		return perr(err, ".fields",
			    "must be an array of 1 to %d fields",
			    KT_MATCH_MAX_FIELDS);
	json_array_foreach(fields, i, v)
	{
		sub_idx(path, ".fields", i);
		r = parse_field(p, v, path, &p->fields[p->nfields], err);
		if (r != KT_OK)
			return r;
		p->nfields++;
	}
	return check_groups(p, err);
}

static int parse_part(struct kt_match_profile *p, json_t *o, const char *path,
		      struct ktm_part *part, struct kt_error *err)
{
	static const char *const keys[] = {"field",	 "transform",  "length",
					   "min_length", "valid_only", NULL};
	static const char *const transforms[] = {"none", "tokens", "cologne",
						 "prefix", NULL};
	char sub[PATH_MAX_LEN];
	long long v = 0;
	int tr, r;

	if ((r = check_keys(o, path, keys, err)) != KT_OK ||
	    (r = field_by_name(p, o, path, "field", &part->field, err)) !=
		KT_OK ||
	    (r = get_enum(o, path, "transform", "transform", transforms, 0, &tr,
			  err)) != KT_OK ||
	    (r = get_bool(o, path, "valid_only", &part->valid_only, err)) !=
		KT_OK)
		return r;
	part->tr = (enum ktm_transform)tr;
	if (part->tr != KTM_TR_PREFIX && json_object_get(o, "length")) {
		sub_key(sub, path, "length");
		return perr(err, sub, "only for transform 'prefix'");
	}
	if (part->tr != KTM_TR_TOKENS && json_object_get(o, "min_length")) {
		sub_key(sub, path, "min_length");
		return perr(err, sub, "only for transform 'tokens'");
	}
	if ((r = get_int(o, path, "length", 1, 64, 0, part->tr == KTM_TR_PREFIX,
			 &v, err)) != KT_OK)
		return r;
	part->length = (unsigned)v;
	if ((r = get_int(o, path, "min_length", 1, 64, 1, 0, &v, err)) != KT_OK)
		return r;
	part->min_length = (unsigned)v;
	return KT_OK;
}

static int parse_exact_keys(struct kt_match_profile *p, json_t *o,
			    const char *path, struct ktm_pass *ps,
			    struct kt_error *err)
{
	json_t *keys = json_object_get(o, "keys");
	char kpath[PATH_MAX_LEN], ppath[PATH_MAX_LEN];
	size_t i, j;
	json_t *key, *part;
	int r;

	sub_key(kpath, path, "keys");
	if (keys == NULL)
		return perr(err, kpath, "required");
	if (!json_is_array(keys) || json_array_size(keys) < 1 ||
	    json_array_size(keys) > KTM_MAX_KEYS)
		return perr(
		    err, kpath,
		    "must be an array of 1 to %d keys (arrays of parts)",
		    KTM_MAX_KEYS);
	json_array_foreach(keys, i, key)
	{
		unsigned ntokens = 0;

		sub_idx(ppath, kpath, i);
		if (!json_is_array(key) || json_array_size(key) < 1 ||
		    json_array_size(key) > KTM_MAX_PARTS)
			return perr(err, ppath,
				    "must be an array of 1 to %d parts",
				    KTM_MAX_PARTS);
		json_array_foreach(key, j, part)
		{
			char path3[PATH_MAX_LEN];

			sub_idx(path3, ppath, j);
			r = parse_part(p, part, path3, &ps->parts[i][j], err);
			if (r != KT_OK)
				return r;
			if (ps->parts[i][j].tr == KTM_TR_TOKENS &&
			    ++ntokens > 1)
				return perr(
				    err, path3,
				    "at most one 'tokens' part per key");
		}
		ps->nparts[i] = (unsigned)json_array_size(key);
	}
	ps->nkeys = (unsigned)json_array_size(keys);
	return KT_OK;
}

static int parse_pass(struct kt_match_profile *p, json_t *o, const char *path,
		      unsigned index, unsigned default_max,
		      struct kt_error *err)
{
	static const char *const methods[] = {"exact", "sorted_neighbourhood",
					      "minhash_lsh", NULL};
	static const char *const exact_keys[] = {"name", "method", "keys",
						 "max_block_size", NULL};
	static const char *const sorted_keys[] = {"name",   "method",	"field",
						  "window", "reversed", NULL};
	static const char *const minhash_keys[] = {
	    "name", "method", "field",		"ngram", "bands",
	    "rows", "seed",   "max_block_size", NULL};
	struct ktm_pass *ps = &p->passes[index];
	char sub[PATH_MAX_LEN];
	long long v = 0;
	int method, r;

	if (!json_is_object(o))
		return perr(err, path, "must be an object");
	if ((r = get_enum(o, path, "method", "method", methods, -1, &method,
			  err)) != KT_OK)
		return r;
	ps->method = (enum ktm_method)method;
	r = check_keys(o, path,
		       method == KTM_PASS_EXACT	   ? exact_keys
		       : method == KTM_PASS_SORTED ? sorted_keys
						   : minhash_keys,
		       err);
	if (r != KT_OK ||
	    (r = get_name(o, path, "name", ps->name, err)) != KT_OK)
		return r;
	for (unsigned i = 0; i < index; i++) {
		if (strcmp(p->passes[i].name, ps->name) == 0) {
			sub_key(sub, path, "name");
			return perr(err, sub, "duplicate pass '%s'", ps->name);
		}
	}
	if ((r = get_int(o, path, "max_block_size", 2, 1000000, default_max, 0,
			 &v, err)) != KT_OK)
		return r;
	ps->max_block_size = (unsigned)v;
	switch (ps->method) {
	case KTM_PASS_EXACT:
		return parse_exact_keys(p, o, path, ps, err);
	case KTM_PASS_SORTED:
		if ((r = field_by_name(p, o, path, "field", &ps->field, err)) !=
			KT_OK ||
		    (r = get_int(o, path, "window", 2, 1000, 4, 0, &v, err)) !=
			KT_OK)
			return r;
		ps->window = (unsigned)v;
		return get_bool(o, path, "reversed", &ps->reversed, err);
	default:
		if ((r = field_by_name(p, o, path, "field", &ps->field, err)) !=
			KT_OK ||
		    (r = get_int(o, path, "ngram", 2, 5, 3, 0, &v, err)) !=
			KT_OK)
			return r;
		ps->ngram = (unsigned)v;
		if ((r = get_int(o, path, "bands", 1, 32, 8, 0, &v, err)) !=
		    KT_OK)
			return r;
		ps->bands = (unsigned)v;
		if ((r = get_int(o, path, "rows", 1, 8, 4, 0, &v, err)) !=
		    KT_OK)
			return r;
		ps->rows = (unsigned)v;
		if ((r = get_int(o, path, "seed", 0, 0x7fffffffffffffffLL,
				 index + 1, 0, &v, err)) != KT_OK)
			return r;
		ps->seed = (uint64_t)v;
		return KT_OK;
	}
}

static int parse_blocking(struct kt_match_profile *p, json_t *root,
			  struct kt_error *err)
{
	static const char *const keys[] = {"max_block_size", "oversize_window",
					   "oversize_sort_field", "passes",
					   NULL};
	json_t *b = json_object_get(root, "blocking"), *passes, *v;
	char path[PATH_MAX_LEN];
	long long max = 0, window = 0;
	size_t i;
	int r;

	if (b == NULL)
		return perr(err, ".blocking", "required");
	if ((r = check_keys(b, ".blocking", keys, err)) != KT_OK ||
	    (r = get_int(b, ".blocking", "max_block_size", 2, 1000000, 1000, 0,
			 &max, err)) != KT_OK ||
	    (r = get_int(b, ".blocking", "oversize_window", 0, 1000, 0, 0,
			 &window, err)) != KT_OK)
		return r;
	p->oversize_window = (unsigned)window;
	p->oversize_sort_field = -1;
	if (json_object_get(b, "oversize_sort_field") != NULL) {
		unsigned f;

		if ((r = field_by_name(p, b, ".blocking", "oversize_sort_field",
				       &f, err)) != KT_OK)
			return r;
		p->oversize_sort_field = (int)f;
	} else if (window > 0) {
		return perr(err, ".blocking.oversize_sort_field",
			    "required when oversize_window is set");
	}
	passes = json_object_get(b, "passes");
	if (passes == NULL)
		return perr(err, ".blocking.passes", "required");
	if (!json_is_array(passes) || json_array_size(passes) < 1 ||
	    json_array_size(passes) > KT_MATCH_MAX_PASSES)
		return perr(err, ".blocking.passes",
			    "must be an array of 1 to %d passes",
			    KT_MATCH_MAX_PASSES);
	json_array_foreach(passes, i, v)
	{
		sub_idx(path, ".blocking.passes", i);
		r = parse_pass(p, v, path, (unsigned)i, (unsigned)max, err);
		if (r != KT_OK)
			return r;
		p->npasses++;
	}
	return KT_OK;
}

static int parse_rest(struct kt_match_profile *p, json_t *root,
		      struct kt_error *err)
{
	static const char *const tkeys[] = {"auto_merge", "review", NULL};
	static const char *const ekeys[] = {"max_iterations",
					    "tolerance",
					    "initial_match_rate",
					    "u_sample_pairs",
					    "fix_u",
					    "seed",
					    NULL};
	json_t *th = json_object_get(root, "thresholds");
	json_t *em = json_object_get(root, "em");
	struct kt_match_em_settings *s = &p->em;
	long long v = 0;
	int r;

	if (th == NULL)
		return perr(err, ".thresholds", "required");
	if ((r = check_keys(th, ".thresholds", tkeys, err)) != KT_OK ||
	    (r = get_num(th, ".thresholds", "auto_merge", -200, 200, 0, 1,
			 &p->auto_merge, err)) != KT_OK ||
	    (r = get_num(th, ".thresholds", "review", -200, 200, 0, 1,
			 &p->review, err)) != KT_OK)
		return r;
	if (p->review > p->auto_merge)
		return perr(err, ".thresholds.review",
			    "must not exceed auto_merge (%g)", p->auto_merge);
	if (em == NULL)
		em = json_object(); /* all defaults */
	else
		json_incref(em);
	r = check_keys(em, ".em", ekeys, err);
	if (r == KT_OK)
		r = get_int(em, ".em", "max_iterations", 0, 10000, 100, 0, &v,
			    err);
	s->max_iterations = (unsigned)v;
	if (r == KT_OK)
		r = get_num(em, ".em", "tolerance", 1e-12, 0.1, 1e-6, 0,
			    &s->tolerance, err);
	if (r == KT_OK)
		r = get_num(em, ".em", "initial_match_rate", 1e-6, 0.999, 0.1,
			    0, &s->initial_match_rate, err);
	if (r == KT_OK)
		r = get_int(em, ".em", "u_sample_pairs", 0, 100000000, 200000,
			    0, &v, err);
	s->u_sample_pairs = (unsigned)v;
	if (r == KT_OK)
		r = get_bool(em, ".em", "fix_u", &s->fix_u, err);
	if (r == KT_OK)
		r = get_int(em, ".em", "seed", 0, 0x7fffffffffffffffLL, 1, 0,
			    &v, err);
	s->seed = (uint64_t)v;
	if (r == KT_OK && s->fix_u && s->u_sample_pairs == 0)
		r = perr(err, ".em.fix_u",
			 "needs u_sample_pairs > 0 (u comes from the sample)");
	json_decref(em);
	return r;
}

static int profile_parse(json_t *root, struct kt_match_profile **out,
			 struct kt_error *err)
{
	static const char *const keys[] = {
	    "name",	"description", "version", "fields",
	    "blocking", "thresholds",  "em",	  NULL};
	struct kt_match_profile *p = NULL;
	json_t *name;
	long long version = 0;
	int r;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return kt_error_set(err, KT_ERR_NOMEM,
				    "profile: out of memory");
	if ((r = check_keys(root, "", keys, err)) != KT_OK ||
	    (r = get_int(root, "", "version", 1, 1, 1, 0, &version, err)) !=
		KT_OK)
		goto cleanup;
	name = json_object_get(root, "name");
	if (name != NULL &&
	    (!json_is_string(name) ||
	     strlen(json_string_value(name)) >= sizeof(p->name))) {
		r = perr(err, ".name", "must be a string of at most %zu bytes",
			 sizeof(p->name) - 1);
		goto cleanup;
	}
	if (json_object_get(root, "description") != NULL &&
	    !json_is_string(json_object_get(root, "description"))) {
		r = perr(err, ".description", "must be a string");
		goto cleanup;
	}
	snprintf(p->name, sizeof(p->name), "%s",
		 name != NULL ? json_string_value(name) : "unnamed");
	if ((r = parse_fields(p, root, err)) != KT_OK ||
	    (r = parse_blocking(p, root, err)) != KT_OK ||
	    (r = parse_rest(p, root, err)) != KT_OK)
		goto cleanup;
	*out = p;
	p = NULL;
cleanup:
	free(p);
	return r;
}

int kt_match_profile_load_string(const char *json,
				 struct kt_match_profile **out,
				 struct kt_error *err)
{
	json_error_t jerr;
	json_t *root;
	int r;

	*out = NULL;
	if (strlen(json) > KT_MATCH_PROFILE_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "profile: larger than %d bytes",
				    KT_MATCH_PROFILE_MAX);
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "profile: line %d, column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	r = profile_parse(root, out, err);
	json_decref(root);
	return r;
}

int kt_match_profile_load_file(const char *path, struct kt_match_profile **out,
			       struct kt_error *err)
{
	char *buf = NULL;
	int r;

	*out = NULL;
	r = ktm_read_small_file(path, KT_MATCH_PROFILE_MAX, &buf, "profile",
				err);
	if (r == KT_OK)
		r = kt_match_profile_load_string(buf, out, err);
	free(buf);
	return r;
}

void kt_match_profile_free(struct kt_match_profile *p)
{
	free(p);
}

const char *kt_match_profile_name(const struct kt_match_profile *p)
{
	return p->name;
}

unsigned kt_match_profile_nfields(const struct kt_match_profile *p)
{
	return p->nfields;
}

const char *kt_match_profile_field(const struct kt_match_profile *p, unsigned f)
{
	return f < p->nfields ? p->fields[f].name : NULL;
}

int kt_match_profile_field_index(const struct kt_match_profile *p,
				 const char *name)
{
	for (unsigned f = 0; f < p->nfields; f++)
		if (strcmp(p->fields[f].name, name) == 0)
			return (int)f;
	return -1;
}

int kt_match_profile_field_strong(const struct kt_match_profile *p, unsigned f)
{
	return f < p->nfields && p->fields[f].strong;
}

unsigned kt_match_profile_nlevels(const struct kt_match_profile *p, unsigned f)
{
	return f < p->nfields ? p->fields[f].nlevels : 0;
}

const char *kt_match_profile_level_name(const struct kt_match_profile *p,
					unsigned f, unsigned level)
{
	if (f >= p->nfields || level >= p->fields[f].nlevels)
		return "?";
	return p->fields[f].level_names[level];
}

unsigned kt_match_profile_ngroups(const struct kt_match_profile *p)
{
	return p->ngroups;
}

const char *kt_match_profile_group(const struct kt_match_profile *p, unsigned g)
{
	return g < p->ngroups ? p->group_names[g] : NULL;
}

int kt_match_profile_field_group(const struct kt_match_profile *p, unsigned f)
{
	return f < p->nfields ? p->fields[f].group : -1;
}

unsigned kt_match_profile_npasses(const struct kt_match_profile *p)
{
	return p->npasses;
}

const char *kt_match_profile_pass(const struct kt_match_profile *p, unsigned i)
{
	return i < p->npasses ? p->passes[i].name : NULL;
}

double kt_match_profile_auto_merge(const struct kt_match_profile *p)
{
	return p->auto_merge;
}

double kt_match_profile_review(const struct kt_match_profile *p)
{
	return p->review;
}

const struct kt_match_em_settings *
kt_match_profile_em(const struct kt_match_profile *p)
{
	return &p->em;
}
