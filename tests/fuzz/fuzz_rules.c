/*
 * kt_merge_rules_load_string: the survivorship rules file of
 * kontor-migrate plan. An operator's file: a typo must give a message,
 * never a crash.
 *
 * Invariants besides "no crash":
 *  - success: every role text maps to one of the three roles;
 *  - failure: *out is NULL and the message starts with "rules: ".
 */
#include "kontor/err.h"
#include "kontor/merge.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kt_merge_rules *r = (void *)1;
	struct kt_error err;
	char *s = fuzz_cstr(data, size);
	int known;

	if (kt_merge_rules_load_string(s, &r, &err) == KT_OK) {
		static const char *const texts[] = {"admin", "Bevollmächtigter",
						    "", "x", "MITARBEITER"};

		FUZZ_ASSERT(r != NULL);
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			const char *role =
			    kt_merge_rules_role(r, texts[i], &known);

			FUZZ_ASSERT(strcmp(role, "admin") == 0 ||
				    strcmp(role, "member") == 0 ||
				    strcmp(role, "representative") == 0);
		}
		kt_merge_rules_free(r);
	} else {
		FUZZ_ASSERT(r == NULL);
		FUZZ_ASSERT(strncmp(err.msg, "rules: ", 7) == 0);
	}
	free(s);
	return 0;
}
