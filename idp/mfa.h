#ifndef KONTOR_IDP_MFA_H
#define KONTOR_IDP_MFA_H

/*
 * The second factor (TOTP, RFC 6238) as stored on a person record:
 *   totp          the secret, sealed (AES-256-GCM, key from keys/hmac.key)
 *   totp_pending  a secret being enrolled, sealed
 *   totp_step     the last accepted time step (replay protection)
 *   recovery      comma-separated hashes of the recovery codes; a used
 *                 code leaves an empty slot
 * See docs/mfa.md.
 */

#include <jansson.h>

#include "gateway.h"

#define KT_ACR_MFA "urn:kontor:acr:mfa"

/* 1 if the person has a second factor. */
int kt_mfa_enabled(json_t *person);

/*
 * Check code (six digits: TOTP; otherwise a recovery code) for person.
 * On KT_OK *update holds the fields to store with the person (new
 * totp_step, or the recovery list without the used code) — store them, or
 * the code stays usable. KT_ERR_DENIED for a wrong or replayed code.
 */
int kt_mfa_check(struct kt_req *r, json_t *person, const char *code,
		 json_t **update);

/* Key for sealing TOTP secrets / hashing recovery codes (32 bytes). */
int kt_mfa_key(struct kt_req *r, const char *label, uint8_t out[32]);

/* Does the request demand the mfa acr (acr_values or essential claims)? */
int kt_mfa_required(const char *acr_values, const char *claims_json);

#endif
