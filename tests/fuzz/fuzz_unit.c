/*
 * kt_plan_unit_check: a unit of a migration plan, checked before apply
 * sends it to the store's scripts. The plan is the tool's own output, but
 * a file on disk can be edited; whatever passes the check is written into
 * accounts and identifier indexes.
 *
 * Invariants besides "no crash":
 *  - success: the organisation has a legal name, every identifier marked
 *    valid is valid, every source link is LAND:id, every person's e-mail
 *    is lower case and every role one of the three;
 *  - failure: the message names a JSON path (starts with ".").
 */
#include <jansson.h>

#include "kontor/err.h"
#include "kontor/ident.h"
#include "kontor/plan.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kt_error err;
	json_error_t je;
	json_t *u = json_loadb((const char *)data, size, 0, &je);

	if (u == NULL)
		return 0;
	if (kt_plan_unit_check(u, &err) == KT_OK) {
		json_t *org = json_object_get(u, "org"), *p;
		const char *vv =
		    json_string_value(json_object_get(org, "vat_valid"));
		size_t i;

		FUZZ_ASSERT(
		    json_string_length(json_object_get(org, "legal_name")) > 0);
		if (vv != NULL && strcmp(vv, "1") == 0) {
			char out[12];
			struct kt_error e;

			FUZZ_ASSERT(
			    kt_ident_vat_normalize(
				json_string_value(json_object_get(org, "vat")),
				out, &e) == KT_OK);
		}
		json_array_foreach(json_object_get(u, "sources"), i, p)
		    FUZZ_ASSERT(strchr(json_string_value(p), ':') != NULL);
		json_array_foreach(json_object_get(u, "people"), i, p)
		{
			const char *e =
			    json_string_value(json_object_get(p, "email"));
			const char *role =
			    json_string_value(json_object_get(p, "role"));

			for (const char *c = e; *c; c++)
				FUZZ_ASSERT(!(*c >= 'A' && *c <= 'Z'));
			FUZZ_ASSERT(strcmp(role, "admin") == 0 ||
				    strcmp(role, "member") == 0 ||
				    strcmp(role, "representative") == 0);
		}
	} else {
		FUZZ_ASSERT(err.msg[0] == '.');
	}
	json_decref(u);
	return 0;
}
