#ifndef KONTOR_IDP_GATEWAY_H
#define KONTOR_IDP_GATEWAY_H

/*
 * kontor-idp's process structure (docs/architecture.md has the picture):
 *
 *   main thread   signals (SIGTERM drain, SIGHUP reload), joins the loops
 *   N loops       one event_base + evhttp + Redis connection each, all
 *                 accepting on the same port (SO_REUSEPORT); the kernel
 *                 spreads connections over them
 *   worker pool   password hashing, woken back to the submitting loop
 *
 * Reloadable state (config clients, keys, prebuilt documents) lives in a
 * reference-counted kt_runtime; every request holds the snapshot it started
 * with, so a reload never changes the rules in the middle of a request.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "kontor/client.h"
#include "kontor/config.h"
#include "kontor/keyset.h"
#include "kontor/params.h"
#include "kontor/pool.h"
#include "kontor/bclogout.h"
#include "kontor/httpc.h"
#include "kontor/httpc_cache.h"
#include "kontor/linkage.h"
#include "kontor/redis.h"

struct kt_runtime {
	atomic_int refs;
	struct kt_config *cfg;
	struct kt_keyset *keys;
	char *discovery; /* pre-serialised discovery document */
	struct kt_client *account_client; /* the gateway's own pages */
	uint64_t generation;
};

/* client_id of the built-in client behind the self-service pages. */
#define KT_ACCOUNT_CLIENT_ID "kontor-account"

struct kt_loop;

struct kt_gateway {
	char *config_path;
	struct kt_runtime *boot_rt; /* the first runtime, held until exit */
	const struct kt_config *boot; /* its config: listen, threads, redis */
	struct kt_redis_addr redis_addr;
	pthread_mutex_t rt_lock;
	struct kt_runtime *rt;
	struct kt_pool *pool;
	struct kt_linkage *linkage; /* federation candidate scoring, or NULL */
	struct kt_loop *loops;
	unsigned nloops;
	int port; /* actual port, after binding */
	atomic_int draining;
	char rid_prefix[8];
};

struct kt_loop {
	struct kt_gateway *gw;
	unsigned index;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct kt_redis *redis;
	struct kt_httpc *httpc;		       /* outbound HTTP (federation) */
	struct kt_httpc_json_cache *json_cache; /* upstream discovery, JWKS */
	struct kt_bclogout *bclogout;	       /* back-channel logout sender */
	pthread_t thread;
	unsigned inflight;
	unsigned conns;
	unsigned max_conns;
	int accepting;
	uint64_t seq;
	struct event *ctl;
	struct event *log_flush; /* writes this loop's buffered log lines */
	struct event *drain_timer;
	int64_t drain_deadline_ms;
};

/* Route flags. */
#define KT_ROUTE_GET 0x01
#define KT_ROUTE_POST 0x02
#define KT_ROUTE_BROWSER 0x04 /* errors are HTML pages, not JSON */
#define KT_ROUTE_FORM 0x08    /* POST body is application/x-www-form-urlencoded */
#define KT_ROUTE_RAW 0x10     /* handler reads the body itself */

struct kt_req;
typedef void kt_handler(struct kt_req *r);

struct kt_route {
	const char *path;
	unsigned flags;
	kt_handler *handler;
	const char *name; /* metrics label */
};

/*
 * One HTTP request in flight. Owned by the loop; freed by the kt_req_send_*
 * call that answers it. Handlers that go asynchronous keep exactly one Redis
 * or pool operation pending at a time, so the request outlives them all.
 */
struct kt_req {
	struct evhttp_request *ev;
	struct kt_loop *loop;
	struct kt_runtime *rt;
	const struct kt_route *route;
	char rid[32];
	int64_t start_ms;
	int gone; /* the client closed the connection */
	int method; /* KT_ROUTE_GET or KT_ROUTE_POST */
	char ip[64];
	const char *lang;
	struct kt_params *query;
	struct kt_params *form; /* POST body for KT_ROUTE_FORM routes */
	struct kt_client *dyn_client; /* a dynamically registered client */
	/* handler-private state, freed with the request */
	void *h;
	void (*h_free)(void *);
};

/* Server lifecycle (server.c). */
int kt_gateway_init(struct kt_gateway *gw, const char *config_path,
		    struct kt_config *cfg, struct kt_error *err);
int kt_gateway_run(struct kt_gateway *gw);
void kt_gateway_cleanup(struct kt_gateway *gw);

/* Build a runtime snapshot from a config (loads keys). */
int kt_runtime_new(struct kt_config *cfg, struct kt_runtime **out,
		   struct kt_error *err);
void kt_runtime_release(struct kt_runtime *rt);

/* Request helpers (server.c). */
const struct kt_config *kt_req_cfg(const struct kt_req *r);
const char *kt_req_header(const struct kt_req *r, const char *name);
/* A parameter from the form body (POST) or the query (GET). */
const char *kt_req_param(const struct kt_req *r, const char *name);
const struct kt_params *kt_req_params(const struct kt_req *r);
const char *kt_req_lang(struct kt_req *r);
struct kt_redis *kt_req_redis(const struct kt_req *r);
int kt_req_cookie(const struct kt_req *r, const char *name, char *out,
		  size_t cap);
int kt_req_secure(const struct kt_req *r);
/* The session id (hash of the session cookie); KT_ERR_NOTFOUND without
 * a cookie. */
int kt_req_session_sid(const struct kt_req *r, char sid[24]);
/*
 * A stateless CSRF token for forms of a session: HMAC of purpose and sid
 * under keys/hmac.key. kt_req_csrf_ok compares in constant time.
 */
void kt_req_csrf(const struct kt_req *r, const char *sid, const char *purpose,
		 char out[48]);
int kt_req_csrf_ok(const struct kt_req *r, const char *sid,
		   const char *purpose, const char *presented);

/* Answers; each completes and frees the request. */
void kt_req_send_json(struct kt_req *r, int status, json_t *body);
/*
 * A public document of the runtime (discovery, JWKS): 200, sent without a
 * copy and without X-Request-Id, Cache-Control: public, max-age.
 */
void kt_req_send_document(struct kt_req *r, const char *json,
			  int cache_seconds);
void kt_req_send_json_str(struct kt_req *r, int status, const char *json,
			  int cache_seconds);
void kt_req_send_oauth_error(struct kt_req *r, int status, const char *error,
			     const char *description);
void kt_req_send_bearer_error(struct kt_req *r, int status, const char *error,
			      const char *description);
void kt_req_send_html(struct kt_req *r, int status, struct evbuffer *body,
		      const char *csp_extra);
void kt_req_send_error_page(struct kt_req *r, int status, const char *error,
			    const char *description);
void kt_req_send_redirect(struct kt_req *r, int status, const char *location);
void kt_req_send_text(struct kt_req *r, int status, const char *ctype,
		      struct evbuffer *body);
/* JSON error or HTML page, depending on the route. */
void kt_req_send_error(struct kt_req *r, int status, const char *error,
		       const char *description);
/* 503 because Redis (or the pool) is unavailable. */
void kt_req_send_unavailable(struct kt_req *r);

/* Set a response header before answering. */
void kt_req_add_header(struct kt_req *r, const char *name, const char *value);

/* The route table (routes.c). */
extern const struct kt_route kt_routes[];
const struct kt_route *kt_route_find(const char *path);

/* Metrics registered at startup (server.c). */
void kt_gateway_metrics_init(void);

#endif
