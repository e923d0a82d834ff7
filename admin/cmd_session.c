/*
 * kontor-admin session and audit: browser sessions of a person, and the
 * audit stream.
 */
#include <stdlib.h>
#include <string.h>

#include "kontor/account.h"
#include "kontor/util.h"

#include "admin.h"

/* Sessions ----------------------------------------------------------------- */

enum {
	S_PERSON = 0x100,
};

static const struct option session_opts[] = {
    {"person", required_argument, NULL, S_PERSON},
    {NULL, 0, NULL, 0},
};

struct session_in {
	int allowed;
	const char *person;
};

static int on_session_opt(struct adm *a, void *ctx, int val, const char *arg)
{
	struct session_in *in = ctx;

	if (!in->allowed)
		return adm_usage(a, "option --person does not apply here");
	in->person = arg;
	return 0;
}

static void human_sessions(struct adm *a, json_t *doc)
{
	json_t *list = json_object_get(doc, "sessions"), *s;
	size_t i;
	char c[32], t[32], e[32];

	printf("sessions of %s (%s):\n", adm_str(doc, "person"),
	       adm_str(doc, "email"));
	if (json_array_size(list) == 0) {
		printf("  none\n");
		return;
	}
	printf("  %-24s %-20s %-20s %-20s %-4s %s\n", "SID", "CREATED",
	       "AUTHENTICATED", "ENDS AT THE LATEST", "ACR", "AMR");
	json_array_foreach(list, i, s)
	{
		adm_time(c, adm_str(s, "created"));
		adm_time(t, adm_str(s, "auth_time"));
		adm_time(e, adm_str(s, "abs_exp"));
		printf("  %-24s %-20s %-20s %-20s %-4s %s\n", adm_str(s, "sid"),
		       c, t, e, adm_str(s, "acr"), adm_str(s, "amr"));
	}
}

static int session_list(struct adm *a, const struct adm_cmd *cmd, int argc,
			char **argv)
{
	struct session_in in = {0};
	char *pos[ADM_MAX_POS];
	json_t *p = NULL, *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, session_opts, on_session_opt,
			   &in, pos, 1, 1, &npos)) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = adm_person(a, pos[0], &p)) != 0)
		return r;
	if ((r = adm_call(a,
			  kt_account_person_sessions(kt_cli_redis(a->cli),
						     adm_str(p, "id"),
						     kt_cli_done, a->cli),
			  &res, "sessions")) == 0) {
		json_object_set_new(res, "person",
				    json_string(adm_str(p, "id")));
		json_object_set_new(res, "email",
				    json_string(adm_str(p, "email")));
		adm_print(a, res, human_sessions);
	}
	json_decref(p);
	json_decref(res);
	return r;
}

static void human_message(struct adm *a, json_t *doc)
{
	printf("%s\n", adm_str(doc, "message"));
}

static int session_revoke(struct adm *a, const struct adm_cmd *cmd, int argc,
			  char **argv)
{
	struct session_in in = {.allowed = 1};
	char *pos[ADM_MAX_POS], msg[300];
	json_t *p = NULL, *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, session_opts, on_session_opt,
			   &in, pos, 0, 1, &npos)) != 0)
		return r;
	if ((npos == 1) == (in.person != NULL))
		return adm_usage(a, "give either a SID or --person PERSON");
	if (npos == 1 && (r = adm_check_id(a, "SID", pos[0])) != 0)
		return r;
	if ((r = adm_connect(a)) != 0)
		return r;
	if (npos == 1) {
		if ((r = adm_call(a,
				  kt_account_session_revoke(
				      kt_cli_redis(a->cli), pos[0], a->actor,
				      kt_cli_done, a->cli),
				  &res, "session")) != 0)
			goto out;
		snprintf(msg, sizeof(msg), "ended session %s of person %s",
			 pos[0], adm_str(res, "person"));
	} else {
		if ((r = adm_person(a, in.person, &p)) != 0 ||
		    (r = adm_call(a,
				  kt_account_person_sessions_revoke(
				      kt_cli_redis(a->cli), adm_str(p, "id"),
				      a->actor, kt_cli_done, a->cli),
				  &res, "sessions")) != 0)
			goto out;
		snprintf(msg, sizeof(msg), "ended %lld session(s) of %s (%s)",
			 (long long)json_integer_value(
			     json_object_get(res, "revoked")),
			 adm_str(p, "id"), adm_str(p, "email"));
	}
	json_object_set_new(res, "message", json_string(msg));
	adm_print(a, res, human_message);
out:
	json_decref(p);
	json_decref(res);
	return r;
}

const struct adm_cmd adm_session_cmds[] = {
    {"session", "list", "session list EMAIL|ID",
     "list a person's browser sessions",
     "DESCRIPTION\n"
     "    Lists the person's single sign-on sessions at the gateway,\n"
     "    newest first: the session id (the hash of the browser's\n"
     "    cookie, never the cookie itself), when it was created, when the\n"
     "    person authenticated, when it ends at the latest (it ends\n"
     "    earlier when idle), the authentication context (acr) and\n"
     "    methods (amr). Sessions that have ended are dropped from the\n"
     "    person's index on the way.\n"
     "\n"
     "OUTPUT\n"
     "    With --json: {\"person\", \"email\", \"sessions\": [{\"sid\",\n"
     "    \"created\", \"auth_time\", \"abs_exp\", \"acr\", \"amr\", ...}]}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin session list anna@example.de\n",
     session_list},
    {"session", "revoke", "session revoke SID | --person EMAIL|ID",
     "end one session or all of a person's",
     "DESCRIPTION\n"
     "    Ends the session SID, or every session of the person, as a\n"
     "    logout would: the next request of that browser must log in\n"
     "    again. Tokens already issued to portals stay valid until they\n"
     "    expire or are revoked. Audited as session.revoke or\n"
     "    session.revoke_all.\n"
     "\n"
     "OPTIONS\n"
     "    --person EMAIL|ID   end all sessions of this person\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin session revoke 3q2dXyV0aS8bQmTzW1e9Fw\n"
     "    kontor-admin session revoke --person anna@example.de\n",
     session_revoke},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* Audit -------------------------------------------------------------------- */

#define AUDIT_MAX 4000
#define PAGE 500
#define FOLLOW_MS 500

enum {
	A_N = 'n',
	A_ACTOR = 0x100,
	A_ACTION,
	A_OBJECT,
	A_FOLLOW,
};

static const struct option audit_opts[] = {
    {"lines", required_argument, NULL, A_N},
    {"actor", required_argument, NULL, A_ACTOR},
    {"action", required_argument, NULL, A_ACTION},
    {"object", required_argument, NULL, A_OBJECT},
    {"follow", no_argument, NULL, A_FOLLOW},
    {NULL, 0, NULL, 0},
};

struct audit_in {
	const char *n, *actor, *action, *object;
	int follow;
};

static int on_audit_opt(struct adm *a, void *ctx, int val, const char *arg)
{
	struct audit_in *in = ctx;

	switch (val) {
	case A_N:
		in->n = arg;
		break;
	case A_ACTOR:
		in->actor = arg;
		break;
	case A_ACTION:
		in->action = arg;
		break;
	case A_OBJECT:
		in->object = arg;
		break;
	case A_FOLLOW:
		in->follow = 1;
		break;
	}
	return 0;
}

static int matches(const struct audit_in *in, json_t *e)
{
	if (in->actor && strcmp(adm_str(e, "actor"), in->actor) != 0)
		return 0;
	if (in->action && strcmp(adm_str(e, "action"), in->action) != 0)
		return 0;
	if (in->object &&
	    strncmp(adm_str(e, "object"), in->object, strlen(in->object)) != 0)
		return 0;
	return 1;
}

static void print_entry(struct adm *a, json_t *e)
{
	char t[32];

	if (a->json) {
		/* --follow prints JSON Lines: one entry per line. */
		json_dumpf(e, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		fputc('\n', stdout);
	} else {
		adm_time(t, adm_str(e, "time"));
		printf("%s  %-20s %-22s %-40s %s\n", t, adm_str(e, "actor"),
		       adm_str(e, "action"), adm_str(e, "object"),
		       adm_str(e, "id"));
	}
	fflush(stdout);
}

static void human_entries(struct adm *a, json_t *doc)
{
	json_t *list = json_object_get(doc, "entries"), *e;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no audit entries%s\n",
		       json_is_true(json_object_get(doc, "filtered")) ? " match"
								      : "");
		return;
	}
	printf("%-20s  %-20s %-22s %-40s %s\n", "TIME", "ACTOR", "ACTION",
	       "OBJECT", "ENTRY");
	json_array_foreach(list, i, e) print_entry(a, e);
}

/*
 * The newest n matching entries, oldest first: pages back through the
 * stream from the newest entry until n match or the stream ends.
 */
static int collect(struct adm *a, const struct audit_in *in, unsigned n,
		   json_t *out, char last_id[48])
{
	char before[48] = "";
	json_t *page = NULL, *e;
	size_t i;
	int r, first = 1;

	last_id[0] = '\0';
	for (;;) {
		unsigned want =
		    (in->actor || in->action || in->object) ? PAGE : n;
		r = adm_call(
		    a,
		    first ? kt_account_audit_tail(kt_cli_redis(a->cli), want,
						  kt_cli_done, a->cli)
			  : kt_account_audit_page(kt_cli_redis(a->cli), before,
						  want, kt_cli_done, a->cli),
		    &page, "audit");
		if (r != 0)
			return r;
		json_array_foreach(json_object_get(page, "entries"), i, e)
		{
			if (first && i == 0)
				snprintf(last_id, 48, "%s", adm_str(e, "id"));
			snprintf(before, sizeof(before), "%s",
				 adm_str(e, "id"));
			if (matches(in, e) && json_array_size(out) < n)
				json_array_insert(out, 0, e);
		}
		first = 0;
		if (json_array_size(json_object_get(page, "entries")) < want ||
		    json_array_size(out) >= n) {
			json_decref(page);
			return 0;
		}
		json_decref(page);
	}
}

static int audit_tail(struct adm *a, const struct adm_cmd *cmd, int argc,
		      char **argv)
{
	struct audit_in in = {0};
	char *pos[ADM_MAX_POS], last[48];
	uint64_t n = 10;
	json_t *entries = json_array(), *doc = NULL, *page = NULL, *e;
	size_t i;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, audit_opts, on_audit_opt, &in,
			   pos, 0, 0, &npos)) != 0)
		goto out;
	if (in.n != NULL &&
	    (kt_parse_uint(in.n, AUDIT_MAX, &n) != KT_OK || n == 0)) {
		r = adm_invalid(a, "-n: '%s' is not a number from 1 to %d",
				in.n, AUDIT_MAX);
		goto out;
	}
	if ((in.actor &&
	     (r = adm_check_text(a, "--actor", in.actor, 128, 0)) != 0) ||
	    (in.action &&
	     (r = adm_check_text(a, "--action", in.action, 128, 0)) != 0) ||
	    (in.object &&
	     (r = adm_check_text(a, "--object", in.object, 300, 0)) != 0) ||
	    (r = adm_connect(a)) != 0 ||
	    (r = collect(a, &in, (unsigned)n, entries, last)) != 0)
		goto out;
	if (!in.follow) {
		doc = json_pack("{s:O,s:b}", "entries", entries, "filtered",
				in.actor || in.action || in.object);
		adm_print(a, doc, human_entries);
		goto out;
	}
	json_array_foreach(entries, i, e) print_entry(a, e);
	if (last[0] == '\0')
		snprintf(last, sizeof(last), "0");
	/* Poll for newer entries until SIGINT or SIGTERM. */
	while (!kt_cli_sleep(a->cli, FOLLOW_MS)) {
		do {
			if ((r = adm_call(a,
					  kt_account_audit_since(
					      kt_cli_redis(a->cli), last, PAGE,
					      kt_cli_done, a->cli),
					  &page, "audit")) != 0)
				goto out;
			json_array_foreach(json_object_get(page, "entries"), i,
					   e)
			{
				snprintf(last, sizeof(last), "%s",
					 adm_str(e, "id"));
				if (matches(&in, e))
					print_entry(a, e);
			}
			i = json_array_size(json_object_get(page, "entries"));
			json_decref(page);
			page = NULL;
		} while (i == PAGE);
	}
	r = 0;
out:
	json_decref(page);
	json_decref(doc);
	json_decref(entries);
	return r;
}

const struct adm_cmd adm_audit_cmds[] = {
    {"audit", "tail",
     "audit tail [-n N] [--actor ACTOR] [--action ACTION]\n"
     "        [--object PREFIX] [--follow]",
     "show the newest audit entries",
     "DESCRIPTION\n"
     "    Prints the newest N (default 10, at most 4000) entries of the\n"
     "    audit stream that match the filters, oldest first. Each entry\n"
     "    has the time, the actor, the action (org.create, org.update,\n"
     "    org.suspend, org.activate, org.merge, org.source.add,\n"
     "    member.add, member.role, member.remove, person.create,\n"
     "    person.disable, person.enable, invite.create, session.revoke,\n"
     "    session.revoke_all, client.register, client.rotate_secret, and\n"
     "    the gateway's own), the object (org:ID, org:ID:person:ID,\n"
     "    person:ID, session:SID, client:ID, ...) and SHA-1 digests of the\n"
     "    object before and after the change. With filters the stream is\n"
     "    read backwards page by page until N entries match.\n"
     "\n"
     "    Here --actor after the command filters the entries; audit tail\n"
     "    writes nothing, so the global --actor has no use in it.\n"
     "\n"
     "OPTIONS\n"
     "    -n, --lines N        how many entries (1..4000, default 10)\n"
     "    --actor ACTOR        only entries of this actor (exact)\n"
     "    --action ACTION      only this action (exact)\n"
     "    --object PREFIX      only objects starting with PREFIX, e.g.\n"
     "                         org:8fJ2kq0cXbqvYl1m3nA2Tw\n"
     "    --follow             then keep printing new matching entries\n"
     "                         until interrupted (SIGINT or SIGTERM:\n"
     "                         exit 0); with --json one JSON object per\n"
     "                         line\n"
     "\n"
     "OUTPUT\n"
     "    With --json (without --follow): {\"entries\": [{\"id\", \"time\",\n"
     "    \"actor\", \"action\", \"object\", \"before\", \"after\"}],\n"
     "    \"filtered\": bool}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin audit tail -n 50 --action org.merge\n"
     "    kontor-admin audit tail --object org:8fJ2kq0cXbqvYl1m3nA2Tw "
     "--follow\n",
     audit_tail},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
