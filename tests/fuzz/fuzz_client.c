/*
 * kt_client_from_json under the dynamic-registration policy: the body of
 * an RFC 7591 registration request, i.e. JSON from anyone holding an
 * initial access token. The input is parsed as JSON first (as the
 * registration endpoint does, duplicates refused), then validated with
 * and without dev.allow_http_loopback.
 *
 * Invariants besides "no crash":
 *  - success: the identity is the server-assigned one, PKCE is required,
 *    consent is not skipped, every redirect URI passes
 *    kt_uri_check_redirect, and the client survives the storage round
 *    trip (kt_client_to_json STORAGE -> kt_client_from_storage) with the
 *    same effective metadata;
 *  - failure: a message, and oauth_error is one of the two RFC 7591 codes.
 */
#include <jansson.h>

#include "kontor/client.h"
#include "kontor/err.h"
#include "kontor/uri.h"

#include "fuzz.h"

static void check_client(const struct kt_client *c,
			 const struct kt_client_policy *pol)
{
	struct kt_client *back = NULL;
	struct kt_error err;
	json_t *stored, *a, *b;

	FUZZ_ASSERT(c->dynamic);
	FUZZ_ASSERT(strcmp(c->client_id, pol->client_id) == 0);
	FUZZ_ASSERT(c->secret == NULL);
	FUZZ_ASSERT(c->require_pkce);
	FUZZ_ASSERT(!c->skip_consent);
	FUZZ_ASSERT(c->redirect_uris[c->n_redirect_uris] == NULL);
	for (size_t i = 0; i < c->n_redirect_uris; i++)
		FUZZ_ASSERT(kt_uri_check_redirect(c->redirect_uris[i],
						  pol->allow_http_loopback,
						  NULL) == KT_OK);
	if (c->client_name != NULL)
		FUZZ_ASSERT(strlen(c->client_name) <= KT_CLIENT_NAME_MAX);

	stored = kt_client_to_json(c, KT_CLIENT_JSON_STORAGE);
	FUZZ_ASSERT(stored != NULL);
	if (kt_client_from_storage(stored, pol, &back, &err) != KT_OK) {
		fprintf(stderr, "storage round trip: %s\n", err.msg);
		FUZZ_ASSERT(!"stored client does not load");
	}
	a = kt_client_to_json(c, 0);
	b = kt_client_to_json(back, 0);
	FUZZ_ASSERT(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	json_decref(stored);
	kt_client_free(back);
}

static void run(const json_t *j, int loopback)
{
	struct kt_client_policy pol = {
	    .allow_http_loopback = loopback,
	    .dynamic = 1,
	    .client_id = "dyn-fuzz-0123456789",
	    .secret_hmac = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    .created_at = 1700000000,
	};
	struct kt_client *c = (struct kt_client *)1;
	const char *oerr = "unset";
	struct kt_error err;
	int rc;

	rc = kt_client_from_json(j, "", &pol, &c, &oerr, &err);
	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_INVALID || rc == KT_ERR_NOMEM);
	if (rc == KT_OK) {
		FUZZ_ASSERT(c != NULL);
		FUZZ_ASSERT(oerr == NULL);
		check_client(c, &pol);
		kt_client_free(c);
		return;
	}
	FUZZ_ASSERT(c == NULL);
	FUZZ_ASSERT(err.msg[0] != '\0');
	if (rc == KT_ERR_INVALID)
		FUZZ_ASSERT(oerr != NULL &&
			    (strcmp(oerr, "invalid_redirect_uri") == 0 ||
			     strcmp(oerr, "invalid_client_metadata") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *j =
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL)
		return 0;
	run(j, 0);
	run(j, 1);
	json_decref(j);
	return 0;
}
