/* Operational endpoints: /healthz, /metrics and a landing page. */
#include <string.h>

#include <event2/buffer.h>

#include "kontor/html.h"
#include "kontor/i18n.h"
#include "kontor/metrics.h"
#include "kontor/store.h"

#include "gateway.h"
#include "handlers.h"

static void on_ping(int rc, json_t *result, void *arg)
{
	struct kt_req *r = arg;

	(void)result;
	if (rc != KT_OK) {
		kt_req_add_header(r, "Retry-After", "1");
		kt_req_send_json(r, 503,
				 json_pack("{s:s,s:s}", "status", "unavailable",
					   "redis", kt_strerror(rc)));
		return;
	}
	kt_req_send_json(r, 200,
			 json_pack("{s:s,s:s}", "status", "ok", "redis", "ok"));
}

/* Healthy means: this loop can reach Redis right now. */
void kt_h_healthz(struct kt_req *r)
{
	int rc = kt_store_ping(kt_req_redis(r), on_ping, r);
	if (rc != KT_OK)
		on_ping(rc, NULL, r);
}

void kt_h_metrics(struct kt_req *r)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_metrics_render(out);
	kt_req_send_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
			 out);
	evbuffer_free(out);
}

void kt_h_index(struct kt_req *r)
{
	struct evbuffer *out = evbuffer_new();
	const char *lang = kt_req_lang(r);

	if (out == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_html_page_message(out, lang, kt_i18n(lang, "index.title"),
			     kt_i18n(lang, "index.text"));
	kt_req_send_html(r, 200, out, NULL);
}
