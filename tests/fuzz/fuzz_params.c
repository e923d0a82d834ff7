/*
 * kt_params_parse: query strings and form bodies, straight from the
 * network (every endpoint parses one). Parsed with the default limits and
 * with tiny ones, so the limit paths are reached by short inputs too.
 *
 * Invariants besides "no crash":
 *  - success: at most max_params pairs; names non-empty; names and values
 *    within their limits, NUL-free (strlen = their length) and valid
 *    UTF-8; lookups find what iteration shows; without duplicates the list
 *    survives kt_params_to_json / kt_params_from_json unchanged;
 *  - failure: *out is NULL and the message is printable ASCII (it is
 *    logged and may end up in an error_description).
 */
#include <jansson.h>

#include "kontor/err.h"
#include "kontor/params.h"
#include "kontor/util.h"

#include "fuzz.h"

static void check_ok(const struct kt_params *p,
		     const struct kt_params_limits *lim)
{
	size_t n = kt_params_size(p);
	struct kt_params *back = NULL;
	struct kt_error err;
	json_t *j;

	FUZZ_ASSERT(n <= lim->max_params);
	for (size_t i = 0; i < n; i++) {
		const char *k = kt_params_name_at(p, i);
		const char *v = kt_params_value_at(p, i);
		FUZZ_ASSERT(k != NULL && v != NULL);
		FUZZ_ASSERT(k[0] != '\0');
		FUZZ_ASSERT(strlen(k) <= lim->max_name);
		FUZZ_ASSERT(strlen(v) <= lim->max_value);
		FUZZ_ASSERT(kt_utf8_valid(k, strlen(k)));
		FUZZ_ASSERT(kt_utf8_valid(v, strlen(v)));
		FUZZ_ASSERT(kt_params_get(p, k) != NULL);
		FUZZ_ASSERT(kt_params_count(p, k) >= 1);
	}
	FUZZ_ASSERT(kt_params_name_at(p, n) == NULL);
	if (kt_params_duplicate(p) != NULL)
		return;
	j = kt_params_to_json(p);
	FUZZ_ASSERT(j != NULL);
	FUZZ_ASSERT(kt_params_from_json(j, lim, &back, &err) == KT_OK);
	FUZZ_ASSERT(kt_params_size(back) == n);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(strcmp(kt_params_name_at(back, i),
				   kt_params_name_at(p, i)) == 0);
		FUZZ_ASSERT(strcmp(kt_params_value_at(back, i),
				   kt_params_value_at(p, i)) == 0);
	}
	kt_params_free(back);
	json_decref(j);
}

static void check_err(int rc, const struct kt_params *p,
		      const struct kt_error *err)
{
	FUZZ_ASSERT(rc == KT_ERR_INVALID || rc == KT_ERR_LIMIT ||
		    rc == KT_ERR_NOMEM);
	FUZZ_ASSERT(p == NULL);
	FUZZ_ASSERT(err->msg[0] != '\0');
	for (const char *c = err->msg; *c; c++)
		FUZZ_ASSERT(*c >= 0x20 && *c < 0x7f);
}

static void run(const uint8_t *data, size_t size,
		const struct kt_params_limits *lim)
{
	struct kt_params *p = NULL;
	struct kt_error err;
	int rc = kt_params_parse((const char *)data, size, lim, &p, &err);

	if (rc == KT_OK)
		check_ok(p, lim ? lim : &kt_params_limits_default);
	else
		check_err(rc, p, &err);
	kt_params_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kt_params_limits tiny = {4, 8, 16, 128};

	run(data, size, NULL);
	run(data, size, &tiny);
	return 0;
}
