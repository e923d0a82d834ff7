#ifndef KONTOR_IDP_CLIENTS_H
#define KONTOR_IDP_CLIENTS_H

#include "kontor/client.h"

#include "gateway.h"

/*
 * rc is KT_OK with c set, KT_ERR_NOTFOUND, or KT_ERR_UNAVAILABLE/REDIS.
 * A dynamic client is owned by the request (r->dyn_client) and lives as
 * long as it; a config client lives as long as the request's runtime.
 */
typedef void kt_client_found_cb(struct kt_req *r, const struct kt_client *c,
				int rc, void *arg);

/* Finds a client; cb runs exactly once (possibly before this returns).
 * Returns an error only if cb will not run. */
int kt_client_find(struct kt_req *r, const char *client_id,
		   kt_client_found_cb *cb, void *arg);

typedef void kt_client_auth_cb(struct kt_req *r, const struct kt_client *c);

/*
 * Authenticate the calling client (token, introspection, revocation, PAR).
 * On failure the request is answered (invalid_client, 400/401) and ok never
 * runs; on success ok runs with r->h free for the endpoint's state.
 */
int kt_client_authenticate(struct kt_req *r, kt_client_auth_cb *ok);

#endif
