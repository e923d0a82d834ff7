#ifndef KONTOR_IDP_TOKENS_H
#define KONTOR_IDP_TOKENS_H

#include <stdint.h>

#include <jansson.h>

#include "kontor/client.h"
#include "kontor/pairwise.h"
#include "kontor/util.h"

#include "gateway.h"

/* What a token is about: filled from a code, a grant or a client. */
struct kt_tok_subject {
	const char *person; /* internal person id; NULL: client_credentials */
	const char *scope;  /* granted scopes, space-separated */
	const char *gid;    /* grant id; NULL for client_credentials */
	int64_t auth_time;  /* 0: no end-user authentication */
	const char *acr;
	const char *amr; /* space-separated */
	const char *sid;
	const char *nonce;
	json_t *org;	      /* acting organisation record, or NULL */
	const char *role;     /* the person's role in it */
	const char *claims_req; /* the request's "claims" parameter (JSON) */
};


/*
 * The subject identifier client c sees for person: pairwise per the
 * client's sector unless the client is registered for public subjects.
 */
int kt_tok_sub(struct kt_req *r, const struct kt_client *c,
	       const char *person, char out[KT_PAIRWISE_LEN + 1]);

/*
 * Validate a "claims" request parameter (OIDC Core §5.5): a JSON object
 * with optional "id_token" and "userinfo" members, each an object whose
 * members are null or objects. KT_OK or KT_ERR_INVALID.
 */
int kt_tok_claims_param_ok(const char *json);

/* 1 if a claims parameter asks for any claim about the organisation. */
int kt_tok_claims_want_org(const char *claims_json);

/*
 * The claims released about the person (and organisation) to client c in
 * target ("id_token" or "userinfo"): those the granted scopes cover, plus
 * those asked for by name in the claims parameter that the client is
 * registered for. Both targets get the same values. New reference.
 */
json_t *kt_tok_claims(struct kt_req *r, const struct kt_client *c,
		      const struct kt_tok_subject *s, json_t *person,
		      const char *target);

/*
 * RFC 9068 JWT access token, ES256, typ at+jwt. jti is "<gid>.<random>" for
 * tokens of a grant (so revocation of the grant reaches them without a
 * lookup table) and "<random>" otherwise. Caller frees *out.
 */
int kt_tok_access(struct kt_req *r, const struct kt_client *c,
		  const struct kt_tok_subject *s, char **out);

/*
 * The token endpoint's response body (RFC 6749 §5.1, OIDC Core §3.1.3.3):
 * {"access_token","token_type":"Bearer","expires_in","scope"} and
 * "id_token" / "refresh_token" when not NULL. *out holds secrets: the
 * caller frees it with kt_free_secret. KT_ERR_INVALID if a value is not
 * UTF-8, KT_ERR_NOMEM.
 */
int kt_tok_response(const char *access_token, int64_t expires_in,
		    const char *scope, const char *id_token,
		    const char *refresh_token, char **out);

/*
 * ID token signed with the client's id_token_signed_response_alg, with
 * at_hash when an access token is given and the claims of kt_tok_claims.
 * Caller frees *out.
 */
int kt_tok_id(struct kt_req *r, const struct kt_client *c,
	      const struct kt_tok_subject *s, const char *access_token,
	      json_t *person, char **out);

/* Split a jti into its grant id (NULL if none) — out must hold cap bytes. */
int kt_tok_jti_gid(const char *jti, char *gid, size_t cap);

#endif
