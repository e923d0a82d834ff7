#ifndef KONTOR_PAIRWISE_H
#define KONTOR_PAIRWISE_H

/*
 * Pairwise identifiers (OIDC Core §8.1): what a portal sees instead of the
 * internal id of a person or an organisation. The same local id gives the
 * same value for every portal of one sector and unrelated values across
 * sectors, so portals cannot correlate people or companies by identifier.
 *
 *   id = base64url(HMAC-SHA256(key, kind || 0x00 || sector || 0x00 || local))
 *
 * key is the gateway's keys/hmac.key: it must never change, or every portal
 * sees new identifiers (keys/README.md says to back it up). kind separates
 * the namespaces ("sub" for people, "org" for organisations).
 */

#include <stddef.h>
#include <stdint.h>

#define KT_PAIRWISE_LEN 43 /* characters, without the terminator */

int kt_pairwise_id(const uint8_t *key, size_t keylen, const char *kind,
		   const char *sector, const char *local,
		   char out[KT_PAIRWISE_LEN + 1]);

#endif
