/*
 * The HTTP floor: a bare libevent evhttp server that answers every request
 * with the same 1.7 KB JSON document.
 *
 *     bench_floor PORT
 *
 * No routing, no logging, no Redis: the least work any evhttp-based server
 * can do per request. bench/run.sh measures it next to the gateway, pinned
 * to the same core, so every gateway row can be printed as a fraction of
 * what the HTTP stack itself allows on this machine at this moment.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "kontor/util.h"

#define BODY_SIZE 1700

static char body[BODY_SIZE + 1];
static size_t body_len;

/* A JSON object of roughly a discovery document's size, built once. */
static void build_body(void)
{
	size_t off = 0;
	int i = 0;

	off += (size_t)snprintf(body + off, sizeof(body) - off,
				"{\"issuer\":\"http://127.0.0.1\"");
	while (off + 40 < BODY_SIZE) {
		off += (size_t)snprintf(body + off, sizeof(body) - off,
					",\"field_%03d\":\"%s\"", i++,
					"abcdefghijklmnopqrstuvw");
	}
	while (off < BODY_SIZE - 1)
		body[off++] = ' ';
	body[off++] = '}';
	body[off] = '\0';
	body_len = off;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	(void)arg;
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evbuffer_add(out, body, body_len);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	struct event_config *ec = NULL;
	struct event_base *base = NULL;
	struct evhttp *http = NULL;
	struct event *sig = NULL;
	uint64_t port;
	int rc = 1;

	if (argc != 2 || kt_parse_uint(argv[1], 65535, &port) != 0 ||
	    port == 0) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	build_body();
	signal(SIGPIPE, SIG_IGN);
	/* The same event_base as kontor-idp's loops (idp/server.c,
	 * loop_base_new): epoll with the changelist, so the floor stays the
	 * floor of the gateway's HTTP stack. */
	if ((ec = event_config_new()) == NULL ||
	    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) !=
		0 ||
	    (base = event_base_new_with_config(ec)) == NULL ||
	    (http = evhttp_new(base)) == NULL)
		goto cleanup;
	evhttp_set_gencb(http, on_request, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1", (uint16_t)port) != 0) {
		fprintf(stderr, "cannot bind 127.0.0.1:%u\n", (unsigned)port);
		goto cleanup;
	}
	sig = evsignal_new(base, SIGTERM, on_signal, base);
	if (sig == NULL || event_add(sig, NULL) != 0)
		goto cleanup;
	event_base_dispatch(base);
	rc = 0;
cleanup:
	if (sig != NULL)
		event_free(sig);
	if (http != NULL)
		evhttp_free(http);
	if (base != NULL)
		event_base_free(base);
	if (ec != NULL)
		event_config_free(ec);
	return rc;
}
