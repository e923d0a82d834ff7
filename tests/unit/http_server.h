#ifndef KONTOR_TEST_HTTP_SERVER_H
#define KONTOR_TEST_HTTP_SERVER_H

/*
 * A scripted HTTP(S) server for outbound-HTTP tests, in the spirit of
 * liboauth2 test/http_server.c: libevent's evhttp on 127.0.0.1:<spare
 * port>, running its own event_base in its own thread, so the client's
 * loop under test shares nothing with it. Header-only, like
 * redis_server.h.
 *
 * Paths:
 *   /ok              200 {"ok":true}
 *   /status/<n>      status n, body "status <n>"
 *   /redirect        302 to /ok
 *   /big/<n>         200 with n bytes, Content-Length set
 *   /chunked/<n>     200 with n bytes in chunks, no Content-Length
 *   /echo            200 JSON of the request: method, body, authorization,
 *                    content_type, expect, user_agent, accept
 *   /doc             doc_status (default 200) with {"v":doc_version},
 *                    or "not json" when doc_notjson
 *   /script/<name>   the statuses set by test_http_script(), one per hit
 *                    (the last one repeats)
 *   anything else    404
 * The query is ignored for routing. Every request is recorded (path with
 * query, body) and counted per path with query.
 *
 * Also: test_http_blackhole() (a listener that never accepts, for
 * timeouts) and test_http_refused_port() (nothing listens).
 *
 * Needs evthread_use_pthreads() (called here) since the test thread stops
 * the server's loop.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TEST_HTTP_MAX_REC 512
#define TEST_HTTP_MAX_SCRIPTS 16

struct test_http_rec {
	char path[128];
	char *body;
};

struct test_http_script {
	char name[64];
	int statuses[16];
	int n;
	int hits;
};

struct test_http {
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop; /* activated by the test thread */
	int port;
	SSL_CTX *ssl;
	char cert_path[64]; /* PEM of the self-signed certificate (TLS) */
	pthread_mutex_t lock;
	/* scripted state, under lock */
	int doc_version;
	int doc_status;
	int doc_notjson;
	struct test_http_script scripts[TEST_HTTP_MAX_SCRIPTS];
	int nscripts;
	struct test_http_rec rec[TEST_HTTP_MAX_REC];
	int nrec;
};

static inline const char *test_http_hdr(struct evhttp_request *req,
					const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

static inline char *test_http_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	evbuffer_copyout(in, s, n);
	s[n] = '\0';
	return s;
}

static inline void test_http_reply(struct evhttp_request *req, int status,
				   const char *ctype, const char *body)
{
	struct evbuffer *out = evbuffer_new();

	if (ctype != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Type", ctype);
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, status, "X", out);
	evbuffer_free(out);
}

static inline void test_http_on_request(struct evhttp_request *req, void *arg)
{
	struct test_http *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	char path[128], buf[64];
	char *body = test_http_body(req);
	long n;

	/* Recorded with the query, routed without it. */
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(uri, "?"), uri);
	pthread_mutex_lock(&s->lock);
	if (s->nrec < TEST_HTTP_MAX_REC) {
		snprintf(s->rec[s->nrec].path, sizeof(s->rec[0].path), "%s",
			 uri);
		s->rec[s->nrec].body = body ? strdup(body) : NULL;
		s->nrec++;
	}
	pthread_mutex_unlock(&s->lock);

	if (strcmp(path, "/ok") == 0) {
		test_http_reply(req, 200, "application/json", "{\"ok\":true}");
	} else if (strncmp(path, "/status/", 8) == 0) {
		n = strtol(path + 8, NULL, 10);
		snprintf(buf, sizeof(buf), "status %ld", n);
		test_http_reply(req, (int)n, "text/plain", buf);
	} else if (strcmp(path, "/redirect") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Location", "/ok");
		test_http_reply(req, 302, "text/plain", "moved");
	} else if (strncmp(path, "/big/", 5) == 0 ||
		   strncmp(path, "/chunked/", 9) == 0) {
		int chunked = path[1] == 'c';
		size_t len = strtoul(path + (chunked ? 9 : 5), NULL, 10);
		char *data = malloc(len + 1);
		struct evbuffer *out = evbuffer_new();

		memset(data, 'a', len);
		if (!chunked) {
			evbuffer_add(out, data, len);
			evhttp_send_reply(req, 200, "OK", out);
		} else {
			evhttp_send_reply_start(req, 200, "OK");
			for (size_t off = 0; off < len; off += 8192) {
				size_t k = len - off < 8192 ? len - off : 8192;
				evbuffer_add(out, data + off, k);
				evhttp_send_reply_chunk(req, out);
			}
			evhttp_send_reply_end(req);
		}
		evbuffer_free(out);
		free(data);
	} else if (strcmp(path, "/echo") == 0) {
		json_t *j = json_pack(
		    "{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?}", "method",
		    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST"
								       : "GET",
		    "body", body ? body : "", "authorization",
		    test_http_hdr(req, "Authorization"), "content_type",
		    test_http_hdr(req, "Content-Type"), "expect",
		    test_http_hdr(req, "Expect"), "user_agent",
		    test_http_hdr(req, "User-Agent"), "accept",
		    test_http_hdr(req, "Accept"));
		char *txt = json_dumps(j, JSON_COMPACT);
		test_http_reply(req, 200, "application/json", txt);
		free(txt);
		json_decref(j);
	} else if (strcmp(path, "/doc") == 0) {
		int status, notjson, v;
		pthread_mutex_lock(&s->lock);
		status = s->doc_status;
		notjson = s->doc_notjson;
		v = s->doc_version;
		pthread_mutex_unlock(&s->lock);
		if (notjson)
			snprintf(buf, sizeof(buf), "not json");
		else
			snprintf(buf, sizeof(buf), "{\"v\":%d}", v);
		test_http_reply(req, status, "application/json", buf);
	} else if (strncmp(path, "/script/", 8) == 0) {
		int status = 404;
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->nscripts; i++) {
			struct test_http_script *sc = &s->scripts[i];
			if (strcmp(sc->name, path + 8) != 0)
				continue;
			status = sc->statuses[sc->hits < sc->n ? sc->hits
							       : sc->n - 1];
			sc->hits++;
		}
		pthread_mutex_unlock(&s->lock);
		snprintf(buf, sizeof(buf), "status %d", status);
		test_http_reply(req, status, "text/plain", buf);
	} else {
		test_http_reply(req, 404, "text/plain", "not found");
	}
	free(body);
}

static inline struct bufferevent *test_http_bevcb(struct event_base *base,
						  void *arg)
{
	SSL_CTX *ctx = arg;

	return bufferevent_openssl_socket_new(base, -1, SSL_new(ctx),
					      BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

/* A self-signed P-256 certificate for 127.0.0.1 and localhost. */
static inline int test_http_tls_setup(struct test_http *s)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *fp;
	int fd, ok = 0;

	if (pk == NULL || x == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"127.0.0.1", -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_subject_alt_name,
				   "IP:127.0.0.1,DNS:localhost");
	if (ext == NULL)
		goto out;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto out;
	snprintf(s->cert_path, sizeof(s->cert_path),
		 "/tmp/kt-httpc-cert-XXXXXX");
	if ((fd = mkstemp(s->cert_path)) < 0)
		goto out;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto out;
	}
	PEM_write_X509(fp, x);
	fclose(fp);
	s->ssl = SSL_CTX_new(TLS_server_method());
	if (s->ssl == NULL || SSL_CTX_use_certificate(s->ssl, x) != 1 ||
	    SSL_CTX_use_PrivateKey(s->ssl, pk) != 1)
		goto out;
	ok = 1;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

static inline void test_http_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct test_http *s = arg;
	struct timeval tv = {0, 100 * 1000};

	(void)fd;
	(void)what;
	/* Free the server inside its loop and let the loop run a little:
	 * libevent 2.1 releases a closed TLS bufferevent from a deferred
	 * callback, which would leak if the loop stopped first. */
	evhttp_free(s->http);
	s->http = NULL;
	event_base_loopexit(s->base, &tv);
}

static inline void *test_http_main(void *arg)
{
	struct test_http *s = arg;

	event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Start a server (TLS with a fresh self-signed certificate when tls). */
static inline struct test_http *test_http_start(int tls)
{
	struct test_http *s = calloc(1, sizeof(*s));
	struct evhttp_bound_socket *h;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	evthread_use_pthreads();
	pthread_mutex_init(&s->lock, NULL);
	s->doc_status = 200;
	s->doc_version = 1;
	s->base = event_base_new();
	s->http = evhttp_new(s->base);
	s->stop = event_new(s->base, -1, 0, test_http_on_stop, s);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(s->http, test_http_on_request, s);
	if (tls) {
		if (test_http_tls_setup(s) != 0) {
			fprintf(stderr, "test_http: TLS setup failed\n");
			abort();
		}
		evhttp_set_bevcb(s->http, test_http_bevcb, s->ssl);
	}
	h = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	if (h == NULL) {
		fprintf(stderr, "test_http: cannot bind\n");
		abort();
	}
	getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sin,
		    &len);
	s->port = ntohs(sin.sin_port);
	pthread_create(&s->thread, NULL, test_http_main, s);
	return s;
}

static inline void test_http_stop(struct test_http *s)
{
	if (s == NULL)
		return;
	/* Not event_base_loopbreak() from here: a loop that has not started
	 * yet would reset the flag and run forever. */
	event_active(s->stop, EV_TIMEOUT, 0);
	pthread_join(s->thread, NULL);
	event_free(s->stop);
	event_base_free(s->base);
	if (s->ssl)
		SSL_CTX_free(s->ssl);
	if (s->cert_path[0])
		unlink(s->cert_path);
	for (int i = 0; i < s->nrec; i++)
		free(s->rec[i].body);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* "http://127.0.0.1:<port><path>" (or https) into out. */
static inline const char *test_http_url(const struct test_http *s,
					const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s://127.0.0.1:%d%s", s->ssl ? "https" : "http",
		 s->port, path);
	return out;
}

static inline int test_http_hits(struct test_http *s, const char *path)
{
	int n = 0;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nrec; i++)
		n += strcmp(s->rec[i].path, path) == 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Body of the k-th request (0-based) to path, copied; NULL if none. */
static inline char *test_http_body_of(struct test_http *s, const char *path,
				      int k)
{
	char *b = NULL;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nrec; i++)
		if (strcmp(s->rec[i].path, path) == 0 && k-- == 0) {
			b = s->rec[i].body ? strdup(s->rec[i].body) : NULL;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return b;
}

/* Statuses for /script/<name>, e.g. {500, 500, 200}. */
static inline void test_http_script(struct test_http *s, const char *name,
				    const int *statuses, int n)
{
	struct test_http_script *sc;

	pthread_mutex_lock(&s->lock);
	sc = &s->scripts[s->nscripts++];
	snprintf(sc->name, sizeof(sc->name), "%s", name);
	memcpy(sc->statuses, statuses, (size_t)n * sizeof(int));
	sc->n = n;
	sc->hits = 0;
	pthread_mutex_unlock(&s->lock);
}

static inline void test_http_set_doc(struct test_http *s, int version,
				     int status, int notjson)
{
	pthread_mutex_lock(&s->lock);
	s->doc_version = version;
	s->doc_status = status;
	s->doc_notjson = notjson;
	pthread_mutex_unlock(&s->lock);
}

/*
 * A listening socket that never accepts: connections complete in the
 * kernel's backlog and then nothing is ever answered. Returns the fd
 * (close it when done) and the port in *port.
 */
static inline int test_http_blackhole(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 64) != 0)
		abort();
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static inline int test_http_refused_port(void)
{
	int port, fd = test_http_blackhole(&port);

	close(fd);
	return port;
}

#endif
