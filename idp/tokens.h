#ifndef KONTOR_IDP_TOKENS_H
#define KONTOR_IDP_TOKENS_H

#include <stdint.h>

#include <jansson.h>

#include "kontor/client.h"

#include "gateway.h"

/* What a token is about: filled from a code, a grant or a client. */
struct kt_tok_subject {
	const char *sub;   /* person id, or the client_id (client_credentials) */
	const char *scope; /* granted scopes, space-separated */
	const char *gid;   /* grant id; NULL for client_credentials */
	int64_t auth_time; /* 0: no end-user authentication */
	const char *acr;
	const char *amr;   /* space-separated */
	const char *sid;
	const char *nonce;
};

/* 1 if the space-separated list has the scope. */
int kt_scope_has(const char *scopes, const char *scope);

/*
 * RFC 9068 JWT access token, ES256, typ at+jwt. jti is "<gid>.<random>" for
 * tokens of a grant (so revocation of the grant reaches them without a
 * lookup table) and "<random>" otherwise. Caller frees *out.
 */
int kt_tok_access(struct kt_req *r, const struct kt_client *c,
		  const struct kt_tok_subject *s, char **out);

/*
 * ID token signed with the client's id_token_signed_response_alg, with
 * at_hash when an access token is given and the person's claims allowed by
 * the scopes (person may be NULL). Caller frees *out.
 */
int kt_tok_id(struct kt_req *r, const struct kt_client *c,
	      const struct kt_tok_subject *s, const char *access_token,
	      json_t *person, char **out);

/* Claims of person released by scope (profile, email); new reference. */
json_t *kt_tok_user_claims(json_t *person, const char *scope);

/* Split a jti into its grant id (NULL if none) — out must hold 64 bytes. */
int kt_tok_jti_gid(const char *jti, char *gid, size_t cap);

#endif
