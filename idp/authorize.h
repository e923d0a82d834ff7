#ifndef KONTOR_IDP_AUTHORIZE_H
#define KONTOR_IDP_AUTHORIZE_H

#include <jansson.h>

#include "kontor/client.h"
#include "kontor/config.h"
#include "kontor/params.h"

/*
 * Validate an authorization request of client c whose redirect_uri has
 * already been matched. On success *out is the normalised request (JSON
 * object of strings); on failure *error and *desc name the OAuth error to send
 * back to the redirect_uri. Used by /authorize and by PAR.
 */
int kt_authz_validate(const struct kt_config *cfg, const struct kt_client *c,
		      const struct kt_params *p, json_t **out,
		      const char **error, const char **desc);

/*
 * Show the login page; after a successful login the browser goes to
 * return_path (a path on this server) instead of a client. For the
 * self-service pages and invitations.
 */
struct kt_req;
void kt_authz_login_then(struct kt_req *r, const char *return_path);
void kt_authz_login_hint_then(struct kt_req *r, const char *login_hint,
			      const char *return_path);

/*
 * Finish the pending authorization areq_id for person, who authenticated
 * at a state's provider (the caller checked the browser binding): a new
 * session with acr and session_extra fields, then company choice, consent
 * and the code as usual. Takes over r->h.
 */
void kt_authz_federated(struct kt_req *r, const char *areq_id, json_t *person,
			const char *acr, json_t *session_extra);

/* The browser-binding cookie of pending requests. */
#define KT_BROWSER_COOKIE "kontor_browser"

/*
 * Does this POST belong to the pending request areq: the browser cookie
 * matches its binding and the form's csrf its token? bind gets the hash of
 * the browser cookie ("" without one).
 */
int kt_authz_page_ok(struct kt_req *r, json_t *areq, char bind[24]);

/*
 * Show the login page of pending request areq_id with a notice: a state
 * provider's identity (link_id, see federation.c) waits to be linked to
 * the account that signs in. Takes over r->h.
 */
void kt_authz_login_to_link(struct kt_req *r, const char *areq_id,
			    const char *link_id, const char *upstream_name);

#endif
