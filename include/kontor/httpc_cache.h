#ifndef KONTOR_HTTPC_CACHE_H
#define KONTOR_HTTPC_CACHE_H

/*
 * A per-loop cache of JSON documents that change rarely (an upstream
 * provider's discovery document and JWKS), fetched with kt_httpc.
 *
 *  - fresh for ttl_ms after a successful fetch: answered from memory;
 *  - then stale: still answered at once for up to max_stale_ms more, while
 *    one background fetch refreshes it (stale-while-revalidate), so an
 *    upstream that is slow or down does not slow logins until the
 *    staleness bound is reached;
 *  - concurrent requests for a URL that has no usable document share one
 *    fetch and all get its result;
 *  - a failed fetch is remembered for negative_ttl_ms: requests in that
 *    window get the stale document if one is usable, else the error,
 *    without another fetch, so a dead upstream is not hammered;
 *  - KT_HTTPC_JSON_REFRESH (e.g. a token with an unknown kid after the
 *    upstream rotated keys) waits for a new fetch, however recent the
 *    current document, but at most once per min_refresh_ms per URL:
 *    within that window after a forced refresh the current document is
 *    returned, so random kids cannot make us hammer the upstream either.
 *
 * Only a 200 answer whose body is a JSON object (no duplicate keys) is
 * stored. Like kt_httpc, a cache belongs to one loop thread.
 */

#include <stddef.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/httpc.h"

struct kt_httpc_json_cache;

struct kt_httpc_json_cache_opts {
	int ttl_ms;	      /* 1 .. 7 days */
	int max_stale_ms;     /* 0 (never stale) .. 7 days */
	int negative_ttl_ms;  /* 0 .. 1 hour */
	int min_refresh_ms;   /* 0 .. 1 hour */
	int timeout_ms;	      /* per fetch; 0: the kt_httpc default */
	size_t max_body;      /* 0: the kt_httpc cap */
	unsigned max_entries; /* URLs kept; 1 .. 4096 */
	unsigned flags;	      /* KT_HTTPC_* for the fetches, e.g.
			       * KT_HTTPC_PUBLIC_ONLY */
};

/* Defaults: fresh 5 min, stale up to 1 h more, failures remembered 10 s,
 * forced refresh at most every 30 s, 64 URLs. */
void kt_httpc_json_cache_opts_default(struct kt_httpc_json_cache_opts *o);

/*
 * rc 0: doc is the document, borrowed: valid during the callback; do not
 * modify it; json_incref() it to keep it. Otherwise doc is NULL and rc is
 *   KT_ERR_UNAVAILABLE  the upstream did not answer (see kt_httpc_cb), it
 *                       answered 5xx or 429, or the cache is being freed
 *   KT_ERR_NOTFOUND     404 or 410
 *   KT_ERR_INVALID      another status, or the body is not a JSON object
 *   KT_ERR_LIMIT        the body exceeds max_body
 *   KT_ERR_DENIED       TLS verification failed or the address is refused
 * The cache logs the reason of a failed fetch (URL and status) at warn.
 */
typedef void kt_httpc_json_cb(int rc, json_t *doc, void *arg);

/*
 * A cache fetching through c, which must outlive it (free the cache
 * first). opts NULL: defaults. KT_ERR_INVALID (err: which option),
 * KT_ERR_NOMEM.
 */
int kt_httpc_json_cache_new(struct kt_httpc *c,
			    const struct kt_httpc_json_cache_opts *opts,
			    struct kt_httpc_json_cache **out,
			    struct kt_error *err);

/*
 * Free the cache; NULL ok. Callbacks not yet run run inside this call
 * with KT_ERR_UNAVAILABLE: first those whose answer was already decided,
 * then those waiting for a fetch, each group in the order of the
 * kt_httpc_json_cache_get calls. Fetches in flight are abandoned (their
 * kt_httpc requests finish or are cancelled later and are ignored).
 * Allowed from inside one of the cache's callbacks.
 */
void kt_httpc_json_cache_free(struct kt_httpc_json_cache *jc);

#define KT_HTTPC_JSON_REFRESH 0x1u

/*
 * The document at url. 0: cb runs exactly once, later on the loop thread
 * (never inside this call, even when the answer is in memory). On error cb
 * never runs: KT_ERR_INVALID (URL not allowed by kt_httpc_url_check),
 * KT_ERR_BUSY (max_entries URLs all have a fetch in flight, or kt_httpc
 * is at its request limit), KT_ERR_UNAVAILABLE (being freed),
 * KT_ERR_NOMEM.
 */
int kt_httpc_json_cache_get(struct kt_httpc_json_cache *jc, const char *url,
			    unsigned flags, kt_httpc_json_cb *cb, void *arg);

/* Forget url's document and remembered failure (not a fetch in flight). */
void kt_httpc_json_cache_invalidate(struct kt_httpc_json_cache *jc,
				    const char *url);

/* Counters for metrics and tests. */
struct kt_httpc_json_cache_stats {
	unsigned long hits;	     /* answered fresh from memory */
	unsigned long stale_hits;    /* answered stale while refreshing */
	unsigned long fetches;	     /* fetches started */
	unsigned long failures;	     /* fetches that failed */
	unsigned long negative_hits; /* answered from a remembered failure */
	unsigned entries;
};
void kt_httpc_json_cache_stats(const struct kt_httpc_json_cache *jc,
			       struct kt_httpc_json_cache_stats *st);

#endif
