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
 * The upstream ID token's signature: kt_o2_jwt_verify (liboauth2's token
 * verifier) with RS256, ES256 or PS256 keys from the provider's JWKS. On
 * success *claims is the payload (new reference); iss, aud, azp, nonce
 * and sub are the caller's to check. Codes as kt_o2_jwt_verify's.
 */
int kt_fed_id_token_verify(const char *idt, const json_t *jwks, json_t **claims,
			   struct kt_error *err);

#endif
