#ifndef KONTOR_BCLOGOUT_H
#define KONTOR_BCLOGOUT_H

/*
 * OpenID Connect Back-Channel Logout 1.0, the OP side: logout tokens
 * POSTed to the relying parties' backchannel_logout_uri, off the request
 * path and with retries. One struct kt_bclogout per loop, on top of that
 * loop's kt_httpc; not thread-safe.
 *
 * The token (section 2.4) is a JWT with header typ "logout+jwt", signed by
 * the active key for the client's id_token_signed_response_alg (the RP
 * validates it like an ID token), and the claims iss, aud (client_id),
 * iat, exp (iat + token_ttl_s), jti (128 random bits), events
 * {"http://schemas.openid.net/event/backchannel-logout": {}}, sub and/or
 * sid, never nonce. It is signed once, in kt_bclogout_send(); every
 * attempt sends the same token, so the RP can recognise a repeat by jti.
 *
 * Delivery (section 2.5): POST application/x-www-form-urlencoded
 * "logout_token=<jwt>", no redirects followed, each attempt bounded by
 * timeout_ms.
 *   - any 2xx ends it as delivered (the spec says 200; frameworks send
 *     204);
 *   - connection failures, timeouts, 5xx, 408 and 429 are retried: up to
 *     `attempts` attempts in all, the k-th retry retry_base_ms * 4^(k-1)
 *     (+-20% jitter) after the previous attempt ended; the defaults give
 *     attempts at about 0 s, 5 s and 25 s;
 *   - any other answer (400 and other 4xx, 3xx) ends it as failed at once:
 *     the RP rejected this token and would reject it again.
 * Memory is bounded: at most max_queue deliveries in progress (sending or
 * waiting for a retry) per loop and at most max_per_client per client_id,
 * so an RP that is down cannot pile up memory or crowd out the others;
 * beyond that kt_bclogout_send answers KT_ERR_BUSY.
 *
 * Outcomes are logged (info when delivered, warn when given up; client_id,
 * jti, attempts, last status; never the token) and reported to the
 * optional observer.
 */

#include <stdint.h>

#include "kontor/client.h"
#include "kontor/err.h"
#include "kontor/httpc.h"
#include "kontor/keyset.h"

#define KT_BCLOGOUT_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define KT_BCLOGOUT_TYP "logout+jwt"

struct kt_bclogout;

struct kt_bclogout_opts {
	unsigned max_queue;	 /* 1..65536, default 1024 */
	unsigned max_per_client; /* 1..max_queue, default 64 */
	int attempts;		 /* 1..10, default 3 */
	int retry_base_ms;	 /* 1..600000, default 5000 */
	int timeout_ms;		 /* per attempt, 1..60000, default 5000 */
	int token_ttl_s;	 /* exp - iat, 10..600, default 120 */
};

void kt_bclogout_opts_default(struct kt_bclogout_opts *o);

/* The end of one delivery, for the observer. */
struct kt_bclogout_result {
	const char *client_id;
	const char *jti;
	/*
	 * 0 delivered; KT_ERR_DENIED the RP answered 4xx (not 408/429);
	 * KT_ERR_UNAVAILABLE attempts exhausted on connection failures,
	 * timeouts, 5xx, 408 or 429, or dropped by kt_bclogout_free;
	 * KT_ERR_INVALID an unexpected status (3xx, 1xx); other kt_httpc
	 * codes (KT_ERR_DENIED for TLS or address refusal, KT_ERR_INVALID).
	 */
	int rc;
	int attempts; /* attempts made */
	long status;  /* HTTP status of the last attempt, 0 if none */
};

typedef void kt_bclogout_observer(const struct kt_bclogout_result *res,
				  void *arg);

/*
 * A sender using c (which must outlive it: free this first). opts NULL:
 * defaults. KT_ERR_INVALID (err: which option; also when token_ttl_s does
 * not cover the worst-case retry schedule), KT_ERR_NOMEM.
 */
int kt_bclogout_new(struct kt_httpc *c, const struct kt_bclogout_opts *opts,
		    struct kt_bclogout **out, struct kt_error *err);

/*
 * Drop every delivery in progress (each reported to the observer with
 * KT_ERR_UNAVAILABLE, logged at warn) and free q; NULL ok. Attempts in
 * flight are abandoned (their kt_httpc requests finish or are cancelled
 * later and are ignored). Must not be called from the observer.
 */
void kt_bclogout_free(struct kt_bclogout *q);

/*
 * Called once for every accepted delivery when it ends, on the loop
 * thread. The result's strings are valid during the call only.
 */
void kt_bclogout_set_observer(struct kt_bclogout *q, kt_bclogout_observer *cb,
			      void *arg);

/*
 * Sign a logout token for client c and queue its delivery to
 * c->backchannel_logout_uri. sub is the subject as c knows it (its
 * pairwise sub, as in its ID tokens) and sid the session's sid claim as in
 * c's ID tokens; either may be NULL but not both, and sid is required
 * when c->backchannel_logout_session_required. keys is used only during
 * this call (a runtime snapshot may be released right after). For a
 * dynamically registered client the request goes with
 * KT_HTTPC_PUBLIC_ONLY (a registration must not aim the gateway at
 * internal addresses).
 *
 * 0: accepted, the first attempt starts on the next loop turn; the
 * observer will be told the outcome. Otherwise nothing was queued:
 *   KT_ERR_NOTFOUND     c has no backchannel_logout_uri
 *   KT_ERR_INVALID      neither sub nor sid, sid missing but required,
 *                       no issuer, or the URI is not allowed by kt_httpc
 *   KT_ERR_BUSY         max_queue or max_per_client reached
 *   KT_ERR_UNSUPPORTED  no active key for the client's alg
 *   KT_ERR_CRYPTO, KT_ERR_NOMEM
 */
int kt_bclogout_send(struct kt_bclogout *q, const struct kt_client *c,
		     const char *issuer, const struct kt_keyset *keys,
		     const char *sub, const char *sid);

/*
 * Only build and sign the logout token (what kt_bclogout_send queues).
 * *out is freed with free(); jti receives the token's jti. Same codes as
 * kt_bclogout_send except NOTFOUND/BUSY; err may be NULL.
 */
int kt_bclogout_token(const struct kt_client *c, const char *issuer,
		      const struct kt_keyset *keys, const char *sub,
		      const char *sid, int ttl_s, char **out, char jti[32],
		      struct kt_error *err);

struct kt_bclogout_stats {
	unsigned long accepted;
	unsigned long delivered;
	unsigned long failed;	/* given up or rejected by the RP */
	unsigned long dropped;	/* at kt_bclogout_free */
	unsigned long rejected; /* KT_ERR_BUSY from kt_bclogout_send */
	unsigned long retries;
	unsigned queued; /* deliveries in progress now */
};
void kt_bclogout_stats(const struct kt_bclogout *q,
		       struct kt_bclogout_stats *st);

#endif
