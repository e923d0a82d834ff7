#ifndef KONTOR_IDP_FEDERATION_H
#define KONTOR_IDP_FEDERATION_H

#include <jansson.h>

#include "kontor/err.h"

#include "gateway.h"

/* POST /federate, GET /federate/callback, GET /federate/logged-out. */
void kt_h_federate(struct kt_req *r);
void kt_h_federate_callback(struct kt_req *r);
void kt_h_federate_logged_out(struct kt_req *r);

/* Ask the person to sign in to the unified account to link (org_id: the
 * candidate organisation, or NULL for an account found by email). */
void kt_fed_offer_link(struct kt_req *r, const char *org_id);

/*
 * After a password login that was asked for by kt_fed_offer_link: make
 * the link if person acts for the candidate organisation, then next(r,
 * linked). Does not touch r->h.
 */
void kt_fed_link_after_login(struct kt_req *r, const char *person,
			     const char *link_id,
			     void (*next)(struct kt_req *r, int linked));

/*
 * Our session ended: send the browser through the state provider's
 * end_session_endpoint (id_token_hint) and back to after. Takes over r->h.
 */
void kt_fed_logout_upstream(struct kt_req *r, const char *land, const char *idt,
			    const char *after);

/*
 * The upstream ID token's signature, by liboauth2's token verifier
 * (oauth2_token_verify with "jwk" verifiers: no network I/O) with the keys
 * kt_jws_select_keys picks from the provider's JWKS for RS256, ES256 or
 * PS256. liboauth2 also wants exp present and not passed and iat, if
 * present, at most 120 s ahead. On success *claims is the payload (new
 * reference); iss, aud, azp, nonce and sub are the caller's to check.
 * Codes: those of kt_jws_select_keys (KT_ERR_NOTFOUND: no key with that
 * kid, the provider may have rotated), KT_ERR_DENIED when liboauth2
 * refuses (its log line tells why), KT_ERR_INTERNAL, KT_ERR_NOMEM.
 * Thread-safe; serialised process-wide (liboauth2's global state).
 */
int kt_fed_id_token_verify(const char *idt, const json_t *jwks, json_t **claims,
			   struct kt_error *err);

#endif
