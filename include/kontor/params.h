#ifndef KONTOR_PARAMS_H
#define KONTOR_PARAMS_H

/*
 * application/x-www-form-urlencoded bodies and query strings as an ordered
 * list of (name, value) pairs.
 *
 * Decoding is strict because every OAuth parameter ends up in a comparison,
 * a Redis key or a page: '+' is a space, '%' must be followed by two hex
 * digits, and a decoded NUL byte or invalid UTF-8 (overlong forms,
 * surrogates, > U+10FFFF) rejects the whole input. Everything else,
 * including CR, LF and '%' signs, survives as data; escaping is the job of
 * whoever emits it (kt_html_escape, JSON, kt_http_urlencode).
 *
 * Empty segments ("a=1&&b=2", a trailing '&') are skipped as in the WHATWG
 * URL standard; a segment without '=' has the empty value; an empty name
 * ("=x") is an error. Repeated names are kept: OAuth 2.0 (RFC 6749 §3.1)
 * forbids them, so endpoints call kt_params_duplicate() and refuse.
 */

#include <stddef.h>

#include <jansson.h>

#include "kontor/err.h"

struct kt_params_limits {
	size_t max_params; /* number of pairs */
	size_t max_name;   /* decoded bytes of one name */
	size_t max_value;  /* decoded bytes of one value */
	size_t max_total;  /* encoded bytes of the whole input */
};

/*
 * Defaults sized for authorization requests (id_token_hint, long state
 * values) and login forms; the token endpoint needs less.
 */
#define KT_PARAMS_MAX_PARAMS 64
#define KT_PARAMS_MAX_NAME 128
#define KT_PARAMS_MAX_VALUE 8192
#define KT_PARAMS_MAX_TOTAL 32768
#define KT_PARAMS_LIMITS_DEFAULT                                               \
	{                                                                      \
		KT_PARAMS_MAX_PARAMS, KT_PARAMS_MAX_NAME, KT_PARAMS_MAX_VALUE, \
		    KT_PARAMS_MAX_TOTAL                                        \
	}

extern const struct kt_params_limits kt_params_limits_default;

/* Opaque ordered list; each name and value is a NUL-terminated copy. */
struct kt_params;

/*
 * Parse len bytes at s (need not be NUL-terminated; NULL with len 0 is an
 * empty list). lim NULL means kt_params_limits_default. On success *out is
 * a new list (caller frees with kt_params_free); on failure *out is NULL,
 * the return is KT_ERR_INVALID / KT_ERR_LIMIT / KT_ERR_NOMEM and err says
 * which parameter and why, e.g. "parameter 'state': invalid
 * percent-encoding". Names in messages are truncated and stripped of
 * non-printable bytes, so the message is safe to log.
 */
int kt_params_parse(const char *s, size_t len,
		    const struct kt_params_limits *lim, struct kt_params **out,
		    struct kt_error *err);

/*
 * Form-decode one component (a name or a value, no '&' handling) into out,
 * NUL-terminated. *outlen gets the decoded length. KT_ERR_INVALID for a bad
 * escape, a NUL byte or invalid UTF-8; KT_ERR_LIMIT if out (outcap bytes,
 * terminator included) is too small. err gets a short reason ("invalid
 * percent-encoding", "contains a NUL byte", "invalid UTF-8", "too long").
 * out is wiped on failure, so it may hold secrets.
 */
int kt_params_decode(const char *in, size_t inlen, char *out, size_t outcap,
		     size_t *outlen, struct kt_error *err);

/* An empty list, for building one with kt_params_add. NULL if no memory. */
struct kt_params *kt_params_new(void);

/* Append a copy of (name, value). KT_ERR_INVALID for NULL or empty name. */
int kt_params_add(struct kt_params *p, const char *name, const char *value);

/* Value of the first pair called name, or NULL. Valid until _free. */
const char *kt_params_get(const struct kt_params *p, const char *name);

/* How many pairs are called name. */
size_t kt_params_count(const struct kt_params *p, const char *name);

/*
 * Of the names that occur more than once, the one that occurs first; NULL
 * if all names are distinct.
 */
const char *kt_params_duplicate(const struct kt_params *p);

/* Iteration in input order: i < kt_params_size(p). NULL when out of range. */
size_t kt_params_size(const struct kt_params *p);
const char *kt_params_name_at(const struct kt_params *p, size_t i);
const char *kt_params_value_at(const struct kt_params *p, size_t i);

/*
 * Wipes every value before freeing (a login body holds a password). NULL
 * is ok.
 */
void kt_params_free(struct kt_params *p);

/*
 * {"name": "value", ...} in list order, to store an authorization request
 * in Redis. NULL if the list has a duplicate name (refuse those first) or
 * on allocation failure. Caller owns the reference.
 */
json_t *kt_params_to_json(const struct kt_params *p);

/*
 * The reverse: obj must be an object of strings obeying lim (NULL:
 * defaults) with no NUL bytes. Same return and err conventions as
 * kt_params_parse.
 */
int kt_params_from_json(const json_t *obj, const struct kt_params_limits *lim,
			struct kt_params **out, struct kt_error *err);

#endif
