#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/err.h"
#include "kontor/params.h"
#include "kontor/util.h"

/* Longest part of a parameter name quoted in an error message. */
#define PARAMS_NAME_SHOWN 40

const struct kt_params_limits kt_params_limits_default =
    KT_PARAMS_LIMITS_DEFAULT;

struct kt_param {
	char *name;
	char *value;
};

struct kt_params {
	struct kt_param *v;
	size_t n;
	size_t cap;
};

int kt_params_decode(const char *in, size_t inlen, char *out, size_t outcap,
		     size_t *outlen, struct kt_error *err)
{
	size_t o = 0;
	int r;

	*outlen = 0;
	if (outcap == 0)
		return kt_error_set(err, KT_ERR_LIMIT, "too long");
	out[0] = '\0';
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (inlen - i < 3 ||
			    (hi = kt_hex_value((unsigned char)in[i + 1])) < 0 ||
			    (lo = kt_hex_value((unsigned char)in[i + 2])) < 0) {
				r = kt_error_set(err, KT_ERR_INVALID,
						 "invalid percent-encoding");
				goto fail;
			}
			c = (unsigned char)((hi << 4) | lo);
			i += 2;
		}
		if (c == '\0') {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "contains a NUL byte");
			goto fail;
		}
		if (o + 1 >= outcap) {
			r = kt_error_set(err, KT_ERR_LIMIT, "too long");
			goto fail;
		}
		out[o++] = (char)c;
	}
	if (!kt_utf8_valid(out, o)) {
		r = kt_error_set(err, KT_ERR_INVALID, "invalid UTF-8");
		goto fail;
	}
	out[o] = '\0';
	*outlen = o;
	return KT_OK;

fail:
	OPENSSL_cleanse(out, o);
	out[0] = '\0';
	return r;
}

struct kt_params *kt_params_new(void)
{
	return calloc(1, sizeof(struct kt_params));
}

/* Takes ownership of name and value, also on failure. */
static int params_push(struct kt_params *p, char *name, char *value)
{
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 8;
		struct kt_param *nv = reallocarray(p->v, ncap, sizeof(*nv));
		if (nv == NULL) {
			free(name);
			kt_free_secret(value);
			return KT_ERR_NOMEM;
		}
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n].name = name;
	p->v[p->n].value = value;
	p->n++;
	return KT_OK;
}

int kt_params_add(struct kt_params *p, const char *name, const char *value)
{
	char *n = NULL, *v = NULL;

	if (p == NULL || name == NULL || *name == '\0' || value == NULL)
		return KT_ERR_INVALID;
	if ((n = strdup(name)) == NULL || (v = strdup(value)) == NULL) {
		free(n);
		return KT_ERR_NOMEM;
	}
	return params_push(p, n, v);
}

/*
 * Copy at most PARAMS_NAME_SHOWN bytes of name into buf for an error
 * message, with everything but printable ASCII (and the quote that
 * delimits it) replaced, so the message can go to a log or a page as is.
 */
static const char *shown_name(char buf[PARAMS_NAME_SHOWN + 4], const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < PARAMS_NAME_SHOWN; i++) {
		unsigned char c = (unsigned char)name[i];
		buf[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	if (name[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Decode one raw component into a new heap string; decoded len <= raw len. */
static int decode_dup(const char *raw, size_t rawlen, size_t max, char **out,
		      size_t *outlen, struct kt_error *err)
{
	char *buf;
	int r;

	*out = NULL;
	if ((buf = malloc(rawlen + 1)) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	if ((r = kt_params_decode(raw, rawlen, buf, rawlen + 1, outlen, err)) !=
	    KT_OK) {
		free(buf);
		return r;
	}
	if (*outlen > max) {
		kt_free_secret(buf);
		return kt_error_set(err, KT_ERR_LIMIT, "too long");
	}
	*out = buf;
	return KT_OK;
}

int kt_params_parse(const char *s, size_t len,
		    const struct kt_params_limits *lim, struct kt_params **out,
		    struct kt_error *err)
{
	struct kt_params *p = NULL;
	char *name = NULL, *value = NULL;
	char shown[PARAMS_NAME_SHOWN + 4];
	struct kt_error sub;
	size_t pos = 0, dlen;
	int r;

	*out = NULL;
	kt_error_clear(err);
	if (lim == NULL)
		lim = &kt_params_limits_default;
	if (s == NULL && len > 0)
		return kt_error_set(err, KT_ERR_INVALID, "no input");
	if (len > lim->max_total)
		return kt_error_set(
		    err, KT_ERR_LIMIT,
		    "parameters too large: %zu bytes (limit %zu)", len,
		    lim->max_total);
	if ((p = kt_params_new()) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");

	while (pos < len) {
		const char *seg = s + pos, *amp, *eq;
		size_t seglen, nlen;

		amp = memchr(seg, '&', len - pos);
		seglen = amp ? (size_t)(amp - seg) : len - pos;
		pos += seglen + 1;
		if (seglen == 0)
			continue;
		eq = memchr(seg, '=', seglen);
		nlen = eq ? (size_t)(eq - seg) : seglen;
		if (nlen == 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "empty parameter name");
			goto cleanup;
		}
		if (p->n >= lim->max_params) {
			r = kt_error_set(err, KT_ERR_LIMIT,
					 "too many parameters (limit %zu)",
					 lim->max_params);
			goto cleanup;
		}
		if ((r = decode_dup(seg, nlen, lim->max_name, &name, &dlen,
				    &sub)) != KT_OK) {
			if (r == KT_ERR_LIMIT)
				kt_error_set(err, r,
					     "parameter name: too long "
					     "(limit %zu bytes)",
					     lim->max_name);
			else
				kt_error_set(err, r, "parameter name: %s",
					     sub.msg);
			goto cleanup;
		}
		if ((r = decode_dup(eq ? eq + 1 : "",
				    eq ? seglen - nlen - 1 : 0, lim->max_value,
				    &value, &dlen, &sub)) != KT_OK) {
			if (r == KT_ERR_LIMIT)
				kt_error_set(err, r,
					     "parameter '%s': too long "
					     "(limit %zu bytes)",
					     shown_name(shown, name),
					     lim->max_value);
			else
				kt_error_set(err, r, "parameter '%s': %s",
					     shown_name(shown, name), sub.msg);
			goto cleanup;
		}
		r = params_push(p, name, value);
		name = value = NULL;
		if (r != KT_OK) {
			kt_error_set(err, r, "out of memory");
			goto cleanup;
		}
	}
	*out = p;
	p = NULL;
	r = KT_OK;

cleanup:
	free(name);
	kt_free_secret(value);
	kt_params_free(p);
	return r;
}

const char *kt_params_get(const struct kt_params *p, const char *name)
{
	if (p == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].value;
	return NULL;
}

size_t kt_params_count(const struct kt_params *p, const char *name)
{
	size_t c = 0;

	if (p == NULL || name == NULL)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			c++;
	return c;
}

/* Quadratic, but n is bounded by max_params (64 by default). */
const char *kt_params_duplicate(const struct kt_params *p)
{
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = i + 1; j < p->n; j++)
			if (strcmp(p->v[i].name, p->v[j].name) == 0)
				return p->v[i].name;
	return NULL;
}

size_t kt_params_size(const struct kt_params *p)
{
	return p ? p->n : 0;
}

const char *kt_params_name_at(const struct kt_params *p, size_t i)
{
	return (p && i < p->n) ? p->v[i].name : NULL;
}

const char *kt_params_value_at(const struct kt_params *p, size_t i)
{
	return (p && i < p->n) ? p->v[i].value : NULL;
}

void kt_params_free(struct kt_params *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		kt_free_secret(p->v[i].value);
	}
	free(p->v);
	free(p);
}

json_t *kt_params_to_json(const struct kt_params *p)
{
	json_t *obj = NULL;

	if (p == NULL || kt_params_duplicate(p) != NULL)
		return NULL;
	if ((obj = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < p->n; i++) {
		if (json_object_set_new(obj, p->v[i].name,
					json_string(p->v[i].value)) != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

int kt_params_from_json(const json_t *obj, const struct kt_params_limits *lim,
			struct kt_params **out, struct kt_error *err)
{
	struct kt_params *p = NULL;
	char shown[PARAMS_NAME_SHOWN + 4];
	void *it;
	int r;

	*out = NULL;
	kt_error_clear(err);
	if (lim == NULL)
		lim = &kt_params_limits_default;
	if (!json_is_object(obj))
		return kt_error_set(err, KT_ERR_INVALID,
				    "parameters: not a JSON object");
	if (json_object_size(obj) > lim->max_params)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "too many parameters (limit %zu)",
				    lim->max_params);
	if ((p = kt_params_new()) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");

	/* json_object_iter is const-unaware; we only read through it. */
	for (it = json_object_iter((json_t *)obj); it != NULL;
	     it = json_object_iter_next((json_t *)obj, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it);
		json_t *v = json_object_iter_value(it);
		const char *sv;
		size_t vlen;

		if (klen == 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "empty parameter name");
			goto cleanup;
		}
		if (memchr(key, '\0', klen) != NULL) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "parameter name: contains a NUL byte");
			goto cleanup;
		}
		if (klen > lim->max_name) {
			r = kt_error_set(err, KT_ERR_LIMIT,
					 "parameter name: too long "
					 "(limit %zu bytes)",
					 lim->max_name);
			goto cleanup;
		}
		if (!json_is_string(v)) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "parameter '%s': not a string",
					 shown_name(shown, key));
			goto cleanup;
		}
		sv = json_string_value(v);
		vlen = json_string_length(v);
		if (memchr(sv, '\0', vlen) != NULL) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "parameter '%s': contains a NUL byte",
					 shown_name(shown, key));
			goto cleanup;
		}
		if (vlen > lim->max_value) {
			r = kt_error_set(err, KT_ERR_LIMIT,
					 "parameter '%s': too long "
					 "(limit %zu bytes)",
					 shown_name(shown, key),
					 lim->max_value);
			goto cleanup;
		}
		if ((r = kt_params_add(p, key, sv)) != KT_OK) {
			kt_error_set(err, r, "out of memory");
			goto cleanup;
		}
	}
	*out = p;
	p = NULL;
	r = KT_OK;

cleanup:
	kt_params_free(p);
	return r;
}
