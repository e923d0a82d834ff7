/*
 * The small login driver: browsers that walk the authorization code flow
 * against an OpenID provider, for the rows wrk cannot do with one request.
 *
 *     bench_login_driver --port N --mode full|sso|codes|exchange [options]
 *
 * Each of --conns virtual browsers owns one keep-alive connection and a
 * cookie jar, and repeats a "round" until --duration seconds have passed:
 *
 *   full      fresh browser (empty jar): authorization request, follow the
 *             provider's redirects, submit the login form with --email and
 *             --password, follow redirects to --redirect-uri, exchange the
 *             code at the token endpoint.
 *   sso       every browser logs in once (not timed); then each round is
 *             authorization request → code → token exchange on the session.
 *   codes     like sso, without the exchange: writes --count codes, one per
 *             line, to --codes (for the code exchange row).
 *   exchange  reads --codes and exchanges each code once; a round is one
 *             token request.
 *
 * It knows nothing of a particular provider: a 3xx is followed unless it
 * points at the redirect URI, a 200 page with a password field is a login
 * form (hidden inputs and the first named submit button are sent back), and
 * the token response must contain "access_token". So the same driver runs
 * against kontor-idp and against the peer.
 *
 * Prints one JSON line: rounds, errors, requests, seconds, rounds/s and the
 * round latency p50/p99 in milliseconds.
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define MAX_COOKIES 16
#define MAX_BROWSERS 4096
#define MAX_BODY (256 * 1024)
#define MAX_FORM 8192
#define SHOW_ERRORS 5

enum mode { M_FULL, M_SSO, M_CODES, M_EXCHANGE };
enum step { S_AUTHZ, S_FOLLOW, S_LOGIN, S_TOKEN };

struct cookie {
	char name[128];
	char value[1024];
};

struct browser {
	struct driver *d;
	struct evhttp_connection *conn;
	struct cookie jar[MAX_COOKIES];
	int ncookies;
	enum step step;
	int warming; /* logging in before the measurement starts */
	int done;
	double t0; /* start of this round */
	unsigned id;
	unsigned long seq;
};

struct driver {
	struct event_base *base;
	const char *host;
	unsigned port;
	char hostport[300];
	enum mode mode;
	unsigned conns;
	double duration;
	const char *authorize; /* path and query without state/nonce */
	const char *redirect_uri;
	size_t redirect_len;
	const char *token_path;
	const char *token_auth;
	const char *verifier;
	const char *email;
	const char *password;
	const char *codes_path;
	unsigned long count;
	const char *cpu_pids; /* server processes to account CPU time for */
	double cpu0, cpu1;

	struct browser *b;
	unsigned warm_left;
	unsigned active;
	double t_start, t_end, t_last;
	int measuring;
	unsigned long rounds, errors, requests;
	double *lat;
	size_t nlat, caplat;
	FILE *codes_out;
	char **codes;
	size_t ncodes, next_code;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
	fprintf(stderr, "login_driver: %s\n", msg);
	exit(1);
}

/* Form encoding (application/x-www-form-urlencoded) into buf. */
static size_t urlenc(char *buf, size_t cap, size_t off, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s && off + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			buf[off++] = (char)c;
		} else {
			buf[off++] = '%';
			buf[off++] = hex[c >> 4];
			buf[off++] = hex[c & 15];
		}
	}
	buf[off] = '\0';
	return off;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Value of parameter name in a query string, percent-decoded into out. */
static int query_param(const char *q, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	while (q != NULL && *q) {
		const char *end = strchr(q, '&');
		const char *frag = strchr(q, '#');
		if (frag != NULL && (end == NULL || frag < end))
			end = frag;
		if (end == NULL)
			end = q + strlen(q);
		if ((size_t)(end - q) > nl && strncmp(q, name, nl) == 0 &&
		    q[nl] == '=') {
			size_t o = 0;
			for (const char *p = q + nl + 1; p < end && o + 1 < cap;
			     p++) {
				if (*p == '%' && p + 2 < end &&
				    hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
					out[o++] = (char)(hexval(p[1]) * 16 +
							  hexval(p[2]));
					p += 2;
				} else if (*p == '+') {
					out[o++] = ' ';
				} else {
					out[o++] = *p;
				}
			}
			out[o] = '\0';
			return 0;
		}
		if (*end != '&')
			break;
		q = end + 1;
	}
	return -1;
}

/* Cookies ------------------------------------------------------------------ */

static void jar_set(struct browser *b, const char *hdr)
{
	const char *eq = strchr(hdr, '='), *semi;
	size_t nl, vl;
	int del = 0, i;
	char lower[512];

	if (eq == NULL)
		return;
	semi = strchr(eq, ';');
	nl = (size_t)(eq - hdr);
	vl = semi ? (size_t)(semi - eq - 1) : strlen(eq + 1);
	if (nl == 0 || nl >= sizeof(b->jar[0].name) ||
	    vl >= sizeof(b->jar[0].value))
		return;
	if (semi != NULL) {
		size_t n = strlen(semi);
		if (n >= sizeof(lower))
			n = sizeof(lower) - 1;
		for (size_t k = 0; k < n; k++)
			lower[k] = (char)tolower((unsigned char)semi[k]);
		lower[n] = '\0';
		if (strstr(lower, "max-age=0") || strstr(lower, "1970"))
			del = 1;
	}
	if (vl == 0)
		del = 1;
	for (i = 0; i < b->ncookies; i++) {
		if (strlen(b->jar[i].name) == nl &&
		    strncmp(b->jar[i].name, hdr, nl) == 0)
			break;
	}
	if (del) {
		if (i < b->ncookies)
			b->jar[i] = b->jar[--b->ncookies];
		return;
	}
	if (i == b->ncookies) {
		if (b->ncookies == MAX_COOKIES)
			return;
		b->ncookies++;
		memcpy(b->jar[i].name, hdr, nl);
		b->jar[i].name[nl] = '\0';
	}
	memcpy(b->jar[i].value, eq + 1, vl);
	b->jar[i].value[vl] = '\0';
}

static void jar_collect(struct browser *b, struct evkeyvalq *hdrs)
{
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, hdrs, next)
	{
		if (strcasecmp(kv->key, "Set-Cookie") == 0)
			jar_set(b, kv->value);
	}
}

/* Requests ----------------------------------------------------------------- */

static void on_response(struct evhttp_request *req, void *arg);

static struct evhttp_request *new_req(struct browser *b)
{
	struct evhttp_request *req = evhttp_request_new(on_response, b);
	struct evkeyvalq *h;
	char cookie[MAX_COOKIES * 1200];
	size_t off = 0;

	if (req == NULL)
		die("out of memory");
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", b->d->hostport);
	evhttp_add_header(h, "User-Agent", "kontor-bench-login-driver");
	evhttp_add_header(h, "Accept", "text/html,application/json");
	for (int i = 0; i < b->ncookies; i++) {
		off += (size_t)snprintf(cookie + off, sizeof(cookie) - off,
					"%s%s=%s", i ? "; " : "",
					b->jar[i].name, b->jar[i].value);
		if (off >= sizeof(cookie))
			die("cookie header too long");
	}
	if (off > 0)
		evhttp_add_header(h, "Cookie", cookie);
	return req;
}

static void send_get(struct browser *b, const char *uri)
{
	struct evhttp_request *req = new_req(b);

	b->d->requests++;
	if (evhttp_make_request(b->conn, req, EVHTTP_REQ_GET, uri) != 0)
		die("evhttp_make_request failed");
}

static void send_post(struct browser *b, const char *uri, const char *body,
		      const char *auth)
{
	struct evhttp_request *req = new_req(b);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type",
			  "application/x-www-form-urlencoded");
	if (auth != NULL)
		evhttp_add_header(h, "Authorization", auth);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	b->d->requests++;
	if (evhttp_make_request(b->conn, req, EVHTTP_REQ_POST, uri) != 0)
		die("evhttp_make_request failed");
}

/* Strip scheme and authority of an absolute URL: the driver talks to one
 * server only. */
static const char *path_of(const char *url)
{
	const char *p;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return url;
	p = strstr(url, "://") + 3;
	p = strchr(p, '/');
	return p ? p : "/";
}

static void start_round(struct browser *b);

static void send_token(struct browser *b, const char *code)
{
	char body[4096];
	size_t off;

	off = (size_t)snprintf(body, sizeof(body),
			       "grant_type=authorization_code&code=");
	off = urlenc(body, sizeof(body), off, code);
	off +=
	    (size_t)snprintf(body + off, sizeof(body) - off, "&redirect_uri=");
	off = urlenc(body, sizeof(body), off, b->d->redirect_uri);
	off +=
	    (size_t)snprintf(body + off, sizeof(body) - off, "&code_verifier=");
	urlenc(body, sizeof(body), off, b->d->verifier);
	b->step = S_TOKEN;
	send_post(b, b->d->token_path, body, b->d->token_auth);
}

static void record(struct driver *d, double ms)
{
	if (d->nlat == d->caplat) {
		d->caplat = d->caplat ? d->caplat * 2 : 4096;
		d->lat = realloc(d->lat, d->caplat * sizeof(*d->lat));
		if (d->lat == NULL)
			die("out of memory");
	}
	d->lat[d->nlat++] = ms;
}

static double server_cpu(const struct driver *d);

static void browser_done(struct browser *b)
{
	struct driver *d = b->d;

	if (b->done)
		return;
	b->done = 1;
	if (--d->active == 0) {
		d->cpu1 = server_cpu(d);
		event_base_loopexit(d->base, NULL);
	}
}

static int finished(struct driver *d)
{
	if (d->mode == M_CODES)
		return d->rounds >= d->count;
	if (d->mode == M_EXCHANGE && d->next_code >= d->ncodes)
		return 1;
	return now_s() >= d->t_end;
}

/* utime + stime of the --cpu-pids processes, in seconds; -1 if unknown. */
static double server_cpu(const struct driver *d)
{
	char list[256], path[64], buf[1024];
	double sum = 0;
	long tck = sysconf(_SC_CLK_TCK);

	if (d->cpu_pids == NULL)
		return -1;
	snprintf(list, sizeof(list), "%s", d->cpu_pids);
	for (char *save = NULL, *pid = strtok_r(list, ",", &save); pid;
	     pid = strtok_r(NULL, ",", &save)) {
		FILE *f;
		size_t n;
		char *p;
		unsigned long ut, st;

		snprintf(path, sizeof(path), "/proc/%s/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			return -1;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* fields 14 and 15, counted after the ")" that ends comm */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(
			p + 2,
			"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			&ut, &st) != 2)
			return -1;
		sum += (double)(ut + st) / (double)tck;
	}
	return sum;
}

static void begin_measuring(struct driver *d)
{
	d->cpu0 = server_cpu(d);
	d->measuring = 1;
	d->t_start = d->t_last = now_s();
	d->t_end = d->t_start + d->duration;
	for (unsigned i = 0; i < d->conns; i++)
		start_round(&d->b[i]);
}

static void round_done(struct browser *b)
{
	struct driver *d = b->d;
	double t = now_s();

	if (b->warming) {
		b->warming = 0;
		if (--d->warm_left == 0)
			begin_measuring(d);
		return;
	}
	d->rounds++;
	d->t_last = t;
	record(d, (t - b->t0) * 1e3);
	start_round(b);
}

static void fail(struct browser *b, int status, const char *what,
		 const char *body)
{
	struct driver *d = b->d;

	d->errors++;
	if (d->errors <= SHOW_ERRORS)
		fprintf(stderr,
			"login_driver: browser %u step %d: %s (status %d) "
			"%.300s\n",
			b->id, (int)b->step, what, status, body ? body : "");
	if (d->errors > 1000 && d->errors > 10 * (d->rounds + 1)) {
		fprintf(stderr, "login_driver: too many errors, giving up\n");
		event_base_loopexit(d->base, NULL);
		return;
	}
	if (b->warming) {
		b->ncookies = 0;
		b->step = S_AUTHZ;
		b->seq++;
		{
			char uri[8192];
			snprintf(uri, sizeof(uri),
				 "%s&state=s%u-%lu&nonce=n%lu", d->authorize,
				 b->id, b->seq, b->seq);
			send_get(b, uri);
		}
		return;
	}
	start_round(b);
}

static void got_code(struct browser *b, const char *code)
{
	struct driver *d = b->d;

	if (b->warming || d->mode == M_CODES) {
		if (!b->warming) {
			fprintf(d->codes_out, "%s\n", code);
		}
		round_done(b);
		return;
	}
	send_token(b, code);
}

/* Decode the few HTML entities the providers put into attribute values. */
static void html_unescape(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'},   {"&quot;", '"'}, {"&#39;", '\''},
		    {"&#x27;", '\''}, {"&lt;", '<'},   {"&gt;", '>'},
		    {"&#x2F;", '/'},  {"&#47;", '/'}};
	char *w = s;

	for (char *p = s; *p;) {
		size_t k;
		if (*p == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t n = strlen(ents[k].ent);
				if (strncmp(p, ents[k].ent, n) == 0) {
					*w++ = ents[k].c;
					p += n;
					break;
				}
			}
			if (k < sizeof(ents) / sizeof(ents[0]))
				continue;
		}
		*w++ = *p++;
	}
	*w = '\0';
}

/* Attribute value of attr inside the tag starting at tag (up to '>'). */
static int attr(const char *tag, const char *name, char *out, size_t cap)
{
	const char *end = strchr(tag, '>');
	size_t nl = strlen(name);

	for (const char *p = tag + 1; end != NULL && p < end; p++) {
		if ((p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t') &&
		    strncmp(p, name, nl) == 0 && p[nl] == '=' &&
		    (p[nl + 1] == '"' || p[nl + 1] == '\'')) {
			char q = p[nl + 1];
			const char *v = p + nl + 2, *ve = strchr(v, q);
			size_t n;
			if (ve == NULL || ve > end)
				return -1;
			n = (size_t)(ve - v);
			if (n >= cap)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			html_unescape(out);
			return 0;
		}
	}
	return -1;
}

static size_t form_add(char *buf, size_t cap, size_t off, const char *k,
		       const char *v)
{
	if (off > 0 && off + 1 < cap)
		buf[off++] = '&';
	off = urlenc(buf, cap, off, k);
	if (off + 1 < cap)
		buf[off++] = '=';
	return urlenc(buf, cap, off, v);
}

/* Fill and submit the login form of a page. */
static void submit_login(struct browser *b, const char *page)
{
	struct driver *d = b->d;
	const char *form = strstr(page, "<form"), *fend, *p;
	char action[2048], body[MAX_FORM], name[256], val[2048], type[32];
	size_t off = 0;
	int button = 0;

	body[0] = '\0';
	if (form == NULL || attr(form, "action", action, sizeof(action)) != 0) {
		fail(b, 200, "login page without a form action", page);
		return;
	}
	fend = strstr(form, "</form>");
	for (p = form;
	     fend != NULL && (p = strchr(p + 1, '<')) != NULL && p < fend;) {
		if (strncmp(p, "<input", 6) == 0) {
			if (attr(p, "name", name, sizeof(name)) != 0)
				continue;
			if (attr(p, "type", type, sizeof(type)) != 0)
				type[0] = '\0';
			if (strcmp(type, "hidden") == 0) {
				if (attr(p, "value", val, sizeof(val)) != 0)
					val[0] = '\0';
				off = form_add(body, sizeof(body), off, name,
					       val);
			}
		} else if (strncmp(p, "<button", 7) == 0 && !button) {
			if (attr(p, "name", name, sizeof(name)) == 0 &&
			    attr(p, "value", val, sizeof(val)) == 0) {
				off = form_add(body, sizeof(body), off, name,
					       val);
				button = 1;
			}
		}
	}
	off = form_add(body, sizeof(body), off, "email", d->email);
	off = form_add(body, sizeof(body), off, "password", d->password);
	b->step = S_LOGIN;
	send_post(b, path_of(action), body, NULL);
}

static void start_round(struct browser *b)
{
	struct driver *d = b->d;
	char uri[8192];

	if (finished(d)) {
		browser_done(b);
		return;
	}
	b->t0 = now_s();
	b->seq++;
	if (d->mode == M_EXCHANGE) {
		send_token(b, d->codes[d->next_code++]);
		return;
	}
	if (d->mode == M_FULL)
		b->ncookies = 0;
	b->step = S_AUTHZ;
	snprintf(uri, sizeof(uri), "%s&state=s%u-%lu&nonce=n%lu", d->authorize,
		 b->id, b->seq, b->seq);
	send_get(b, uri);
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct browser *b = arg;
	struct driver *d = b->d;
	int status = req ? evhttp_request_get_response_code(req) : 0;
	struct evbuffer *in;
	char *body = NULL;
	size_t len;

	if (status == 0) {
		fail(b, 0, "connection failed", NULL);
		return;
	}
	jar_collect(b, evhttp_request_get_input_headers(req));
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > MAX_BODY)
		len = MAX_BODY;
	if ((body = malloc(len + 1)) == NULL)
		die("out of memory");
	evbuffer_copyout(in, body, len);
	body[len] = '\0';

	if (b->step == S_TOKEN) {
		if (status == 200 && strstr(body, "\"access_token\"") != NULL)
			round_done(b);
		else
			fail(b, status, "token request failed", body);
	} else if (status >= 300 && status < 400) {
		const char *loc = evhttp_find_header(
		    evhttp_request_get_input_headers(req), "Location");
		char code[1024];
		if (loc == NULL) {
			fail(b, status, "redirect without Location", body);
		} else if (strncmp(loc, d->redirect_uri, d->redirect_len) ==
			       0 &&
			   loc[d->redirect_len] == '?') {
			if (query_param(loc + d->redirect_len + 1, "code", code,
					sizeof(code)) == 0)
				got_code(b, code);
			else
				fail(b, status, "redirect without code", loc);
		} else {
			b->step = S_FOLLOW;
			send_get(b, path_of(loc));
		}
	} else if (status == 200 && strstr(body, "name=\"password\"") != NULL) {
		if (d->mode != M_FULL && !b->warming) {
			/* the session should have made this unnecessary */
			d->errors++;
			if (d->errors <= SHOW_ERRORS)
				fprintf(stderr,
					"login_driver: browser %u: "
					"login page on a live "
					"session\n",
					b->id);
		}
		submit_login(b, body);
	} else {
		fail(b, status, "unexpected response", body);
	}
	free(body);
}

/* Setup -------------------------------------------------------------------- */

static void load_codes(struct driver *d)
{
	FILE *f = fopen(d->codes_path, "r");
	char line[1024];
	size_t cap = 0;

	if (f == NULL)
		die("cannot open the codes file");
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			continue;
		if (d->ncodes == cap) {
			cap = cap ? cap * 2 : 4096;
			d->codes = realloc(d->codes, cap * sizeof(*d->codes));
			if (d->codes == NULL)
				die("out of memory");
		}
		if ((d->codes[d->ncodes++] = strdup(line)) == NULL)
			die("out of memory");
	}
	fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct driver *d, double p)
{
	size_t i;

	if (d->nlat == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(d->nlat - 1) + 0.5);
	return d->lat[i];
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_login_driver --port N --mode "
		"full|sso|codes|exchange\n"
		"  [--host 127.0.0.1] [--conns 64] [--duration 5]\n"
		"  --authorize PATH?QUERY   (state and nonce are appended)\n"
		"  --redirect-uri URI --token-path PATH --token-auth HEADER\n"
		"  --verifier PKCE_VERIFIER --email E --password P\n"
		"  [--codes FILE] [--count N] [--cpu-pids PID,PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"host", required_argument, 0, 'h'},
	    {"port", required_argument, 0, 'p'},
	    {"mode", required_argument, 0, 'm'},
	    {"conns", required_argument, 0, 'c'},
	    {"duration", required_argument, 0, 'd'},
	    {"authorize", required_argument, 0, 'a'},
	    {"redirect-uri", required_argument, 0, 'r'},
	    {"token-path", required_argument, 0, 't'},
	    {"token-auth", required_argument, 0, 'A'},
	    {"verifier", required_argument, 0, 'v'},
	    {"email", required_argument, 0, 'e'},
	    {"password", required_argument, 0, 'P'},
	    {"codes", required_argument, 0, 'f'},
	    {"count", required_argument, 0, 'n'},
	    {"cpu-pids", required_argument, 0, 'C'},
	    {0, 0, 0, 0}};
	struct driver d = {0};
	const char *mode = NULL;
	char *end;
	int c;

	d.host = "127.0.0.1";
	d.conns = 64;
	d.duration = 5;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			d.host = optarg;
			break;
		case 'p':
			d.port = (unsigned)strtoul(optarg, &end, 10);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'c':
			d.conns = (unsigned)strtoul(optarg, &end, 10);
			break;
		case 'd':
			d.duration = strtod(optarg, &end);
			break;
		case 'a':
			d.authorize = optarg;
			break;
		case 'r':
			d.redirect_uri = optarg;
			break;
		case 't':
			d.token_path = optarg;
			break;
		case 'A':
			d.token_auth = optarg;
			break;
		case 'v':
			d.verifier = optarg;
			break;
		case 'e':
			d.email = optarg;
			break;
		case 'P':
			d.password = optarg;
			break;
		case 'f':
			d.codes_path = optarg;
			break;
		case 'n':
			d.count = strtoul(optarg, &end, 10);
			break;
		case 'C':
			d.cpu_pids = optarg;
			break;
		default:
			usage();
		}
	}
	if (mode == NULL || d.port == 0 || d.port > 65535 || d.conns == 0 ||
	    d.conns > MAX_BROWSERS || d.duration <= 0)
		usage();
	if (strcmp(mode, "full") == 0)
		d.mode = M_FULL;
	else if (strcmp(mode, "sso") == 0)
		d.mode = M_SSO;
	else if (strcmp(mode, "codes") == 0)
		d.mode = M_CODES;
	else if (strcmp(mode, "exchange") == 0)
		d.mode = M_EXCHANGE;
	else
		usage();
	if (d.token_path == NULL || d.token_auth == NULL ||
	    d.redirect_uri == NULL || d.verifier == NULL)
		usage();
	if (d.mode != M_EXCHANGE &&
	    (d.authorize == NULL || d.email == NULL || d.password == NULL))
		usage();
	if ((d.mode == M_CODES || d.mode == M_EXCHANGE) && d.codes_path == NULL)
		usage();
	if (d.mode == M_CODES && d.count == 0)
		usage();
	d.redirect_len = strlen(d.redirect_uri);
	snprintf(d.hostport, sizeof(d.hostport), "%s:%u", d.host, d.port);

	signal(SIGPIPE, SIG_IGN);
	if ((d.base = event_base_new()) == NULL)
		die("event_base_new failed");
	if (d.mode == M_EXCHANGE)
		load_codes(&d);
	if (d.mode == M_CODES &&
	    (d.codes_out = fopen(d.codes_path, "w")) == NULL)
		die("cannot write the codes file");
	if ((d.b = calloc(d.conns, sizeof(*d.b))) == NULL)
		die("out of memory");
	for (unsigned i = 0; i < d.conns; i++) {
		struct browser *b = &d.b[i];
		b->d = &d;
		b->id = i;
		b->conn = evhttp_connection_base_new(d.base, NULL, d.host,
						     (unsigned short)d.port);
		if (b->conn == NULL)
			die("evhttp_connection_base_new failed");
		evhttp_connection_set_timeout(b->conn, 60);
		evhttp_connection_set_retries(b->conn, 0);
	}
	d.active = d.conns;
	if (d.mode == M_SSO || d.mode == M_CODES) {
		/* one login per browser, not timed */
		d.warm_left = d.conns;
		for (unsigned i = 0; i < d.conns; i++) {
			d.b[i].warming = 1;
			d.b[i].seq++;
			d.b[i].step = S_AUTHZ;
			{
				char uri[8192];
				snprintf(uri, sizeof(uri),
					 "%s&state=w%u&nonce=w%u", d.authorize,
					 i, i);
				send_get(&d.b[i], uri);
			}
		}
	} else {
		begin_measuring(&d);
	}
	event_base_dispatch(d.base);

	if (d.codes_out != NULL)
		fclose(d.codes_out);
	qsort(d.lat, d.nlat, sizeof(*d.lat), cmp_double);
	{
		double secs = d.t_last - d.t_start;
		if (!d.measuring || secs <= 0)
			secs = 1e-9;
		printf("{\"mode\":\"%s\",\"conns\":%u,\"rounds\":%lu,"
		       "\"errors\":%lu,\"requests\":%lu,\"seconds\":%.3f,"
		       "\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		       "\"server_cpu_s\":%.3f}\n",
		       mode, d.conns, d.rounds, d.errors, d.requests, secs,
		       (double)d.rounds / secs, pct(&d, 50), pct(&d, 99),
		       d.cpu0 >= 0 && d.cpu1 >= d.cpu0 ? d.cpu1 - d.cpu0
						       : -1.0);
	}
	for (unsigned i = 0; i < d.conns; i++)
		evhttp_connection_free(d.b[i].conn);
	for (size_t i = 0; i < d.ncodes; i++)
		free(d.codes[i]);
	free(d.codes);
	free(d.lat);
	free(d.b);
	event_base_free(d.base);
	return d.errors > 0 && d.rounds == 0 ? 1 : 0;
}
