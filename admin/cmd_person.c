/*
 * kontor-admin person and member: people (login accounts) and their
 * memberships in organisations.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/account.h"
#include "kontor/norm.h"
#include "kontor/password.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "admin.h"

#define NAME_MAX_BYTES 200

enum {
	P_EMAIL = 0x100,
	P_NAME,
	P_PW_ENV,
	P_PW_STDIN,
	P_VERIFIED,
	P_ROLE,
};

static const struct option person_opts[] = {
    {"email", required_argument, NULL, P_EMAIL},
    {"name", required_argument, NULL, P_NAME},
    {"password-env", required_argument, NULL, P_PW_ENV},
    {"password-stdin", no_argument, NULL, P_PW_STDIN},
    {"verified", no_argument, NULL, P_VERIFIED},
    {"role", required_argument, NULL, P_ROLE},
    {NULL, 0, NULL, 0},
};

struct person_in {
	const char *email, *name, *pw_env, *role;
	int pw_stdin, verified;
	unsigned allowed; /* 1 << (val - P_EMAIL) */
};

static int on_person_opt(struct adm *a, void *ctx, int val, const char *arg)
{
	struct person_in *in = ctx;

	if (!(in->allowed & (1u << (val - P_EMAIL))))
		return adm_usage(a, "option --%s does not apply here",
				 person_opts[val - P_EMAIL].name);
	switch (val) {
	case P_EMAIL:
		in->email = arg;
		break;
	case P_NAME:
		in->name = arg;
		break;
	case P_PW_ENV:
		in->pw_env = arg;
		break;
	case P_PW_STDIN:
		in->pw_stdin = 1;
		break;
	case P_VERIFIED:
		in->verified = 1;
		break;
	case P_ROLE:
		in->role = arg;
		break;
	}
	return 0;
}

static int check_role(struct adm *a, const char *what, const char *role)
{
	if (!kt_account_role_ok(role))
		return adm_invalid(a,
				   "%s: '%s' is not a role (admin, member or "
				   "representative)",
				   what, role);
	return 0;
}

/* People ------------------------------------------------------------------- */

static void human_person(struct adm *a, json_t *doc)
{
	json_t *p = json_object_get(doc, "person");
	char t[32];

	if (*adm_str(doc, "message"))
		printf("%s\n\n", adm_str(doc, "message"));
	adm_kv("id", adm_str(p, "id"));
	adm_kv("email", adm_str(p, "email"));
	adm_kv("email verified",
	       strcmp(adm_str(p, "email_verified"), "1") == 0 ? "yes" : "no");
	adm_kv("name", adm_str(p, "name"));
	adm_kv("status", adm_str(p, "status"));
	adm_kv("password", adm_str(p, "password"));
	adm_kv("totp", adm_str(p, "totp"));
	adm_time(t, adm_str(p, "created_at"));
	adm_kv("created", t);
	adm_time(t, adm_str(p, "updated_at"));
	adm_kv("updated", t);
}

static int print_person(struct adm *a, json_t *person, const char *message)
{
	json_t *pub = adm_person_public(person);
	json_t *doc = pub ? json_pack("{s:o}", "person", pub) : NULL;

	if (doc == NULL)
		return adm_fail(a, ADM_REFUSED, "internal", "out of memory");
	if (message != NULL)
		json_object_set_new(doc, "message", json_string(message));
	adm_print(a, doc, human_person);
	json_decref(doc);
	return 0;
}

static char *read_password(struct adm *a, const struct person_in *in, int *r)
{
	char buf[KT_PASSWORD_MAX_LEN + 2];
	size_t n;
	char *pw;

	*r = 0;
	if (in->pw_env != NULL) {
		const char *v = getenv(in->pw_env);
		if (v == NULL || *v == '\0') {
			*r = adm_usage(a,
				       "--password-env: the environment "
				       "variable %s is not set or empty",
				       in->pw_env);
			return NULL;
		}
		if ((pw = strdup(v)) == NULL)
			*r = adm_fail(a, ADM_REFUSED, "internal",
				      "out of memory");
		return pw;
	}
	if (fgets(buf, sizeof(buf), stdin) == NULL) {
		*r = adm_usage(a, "--password-stdin: no password on standard "
				  "input");
		return NULL;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n > KT_PASSWORD_MAX_LEN) {
		OPENSSL_cleanse(buf, sizeof(buf));
		*r = adm_invalid(a, "password: longer than %d bytes",
				 KT_PASSWORD_MAX_LEN);
		return NULL;
	}
	buf[n] = '\0';
	if ((pw = strdup(buf)) == NULL)
		*r = adm_fail(a, ADM_REFUSED, "internal", "out of memory");
	OPENSSL_cleanse(buf, sizeof(buf));
	return pw;
}

static int person_create(struct adm *a, const struct adm_cmd *cmd, int argc,
			 char **argv)
{
	struct person_in in = {.allowed = 0x1f};
	struct kt_password_params params = kt_password_params_default;
	struct kt_error err;
	char *pos[ADM_MAX_POS], email[KT_NORM_EMAIL_MAX + 1], msg[400];
	char *pw = NULL, *hash = NULL;
	const char *reason = NULL;
	json_t *person = NULL, *res = NULL, *stored = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, 0, 0, &npos)) != 0)
		return r;
	if (in.email == NULL)
		return adm_usage(a, "--email is required");
	if ((in.pw_env != NULL) == (in.pw_stdin != 0))
		return adm_usage(a, "give exactly one of --password-env VAR "
				    "and --password-stdin");
	if ((r = adm_check_text(a, "--email", in.email, KT_NORM_EMAIL_MAX,
				0)) != 0)
		return r;
	if (kt_norm_email(in.email, email, sizeof(email), &err) != KT_OK)
		return adm_invalid(a,
				   "--email: '%s' is not an email address "
				   "(%s)",
				   in.email, err.msg);
	/* The store keeps logins lower-cased as a whole (kt_store). */
	for (char *c = email; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (in.name != NULL &&
	    (r = adm_check_text(a, "--name", in.name, NAME_MAX_BYTES, 1)) != 0)
		return r;
	if ((pw = read_password(a, &in, &r)) == NULL)
		return r;
	if (kt_password_policy_check(pw, &reason) != KT_OK) {
		r = adm_invalid(a, "password rejected: %s",
				kt_password_policy_describe(reason));
		goto out;
	}
	if ((r = adm_connect(a)) != 0)
		goto out;
	if (kt_cli_config(a->cli) != NULL)
		kt_config_password_params(kt_cli_config(a->cli), &params);
	if (kt_password_hash(pw, &params, &hash, &err) != KT_OK) {
		r = adm_fail(a, ADM_REFUSED, "internal", "password: %s",
			     err.msg);
		goto out;
	}
	person = json_pack("{s:s,s:s,s:s,s:s}", "email", email, "name",
			   in.name ? in.name : "", "pwhash", hash,
			   "email_verified", in.verified ? "1" : "0");
	if (person == NULL) {
		r = adm_fail(a, ADM_REFUSED, "internal", "out of memory");
		goto out;
	}
	r = kt_cli_run(a->cli,
		       kt_store_person_create(kt_cli_redis(a->cli), person,
					      kt_cli_done, a->cli),
		       &res);
	if (r == KT_ERR_CONFLICT) {
		r = adm_fail(a, ADM_REFUSED, "conflict",
			     "%s is already registered", email);
		goto out;
	}
	if (r != KT_OK) {
		const char *code;
		int exit = adm_exit_for(r, &code);
		r = adm_fail(a, exit, code, "create: %s", kt_strerror(r));
		goto out;
	}
	{
		char object[200];
		snprintf(object, sizeof(object), "person:%s",
			 adm_str(res, "id"));
		if ((r = adm_call(a,
				  kt_account_audit_add(kt_cli_redis(a->cli),
						       a->actor,
						       "person.create", object,
						       kt_cli_done, a->cli),
				  NULL, "audit")) != 0)
			goto out;
	}
	if ((r = adm_call(a,
			  kt_store_person_get(kt_cli_redis(a->cli),
					      adm_str(res, "id"), kt_cli_done,
					      a->cli),
			  &stored, "person")) != 0)
		goto out;
	snprintf(msg, sizeof(msg), "created person %s (%s)", adm_str(res, "id"),
		 adm_str(stored, "email"));
	r = print_person(a, stored, msg);
out:
	json_decref(person);
	json_decref(res);
	json_decref(stored);
	kt_free_secret(hash);
	kt_free_secret(pw);
	return r;
}

static int person_show(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	struct person_in in = {0};
	char *pos[ADM_MAX_POS];
	json_t *p = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, 1, 1, &npos)) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = adm_person(a, pos[0], &p)) != 0)
		return r;
	r = print_person(a, p, NULL);
	json_decref(p);
	return r;
}

static int person_status(struct adm *a, const struct adm_cmd *cmd, int argc,
			 char **argv, const char *status)
{
	struct person_in in = {0};
	char *pos[ADM_MAX_POS], msg[300], pid[ADM_ID_MAX + 1];
	const char *action;
	json_t *p = NULL, *res = NULL, *f = NULL, *rev = NULL;
	int npos, r, disable = strcmp(status, "disabled") == 0;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, 1, 1, &npos)) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = adm_person(a, pos[0], &p)) != 0)
		return r;
	/* A copy: p is replaced by the updated record below. */
	snprintf(pid, sizeof(pid), "%s", adm_str(p, "id"));
	if (strcmp(adm_str(p, "status"), status) == 0) {
		snprintf(msg, sizeof(msg), "person %s is already %s", pid,
			 status);
		r = print_person(a, p, msg);
		goto out;
	}
	action = disable ? "person.disable" : "person.enable";
	f = json_pack("{s:s}", "status", status);
	if ((r = adm_call(a,
			  kt_account_person_update(kt_cli_redis(a->cli), pid, f,
						   a->actor, action,
						   kt_cli_done, a->cli),
			  &res, "person")) != 0)
		goto out;
	if (disable) {
		/* A disabled person cannot log in; end the single sign-on
		 * sessions too, so nobody keeps acting on an old one. */
		if ((r = adm_call(a,
				  kt_account_person_sessions_revoke(
				      kt_cli_redis(a->cli), pid, a->actor,
				      kt_cli_done, a->cli),
				  &rev, "sessions")) != 0)
			goto out;
		snprintf(msg, sizeof(msg),
			 "disabled person %s and ended %lld session(s)", pid,
			 (long long)json_integer_value(
			     json_object_get(rev, "revoked")));
	} else {
		snprintf(msg, sizeof(msg), "enabled person %s", pid);
	}
	json_decref(p);
	p = NULL;
	if ((r = adm_call(a,
			  kt_store_person_get(kt_cli_redis(a->cli), pid,
					      kt_cli_done, a->cli),
			  &p, "person")) != 0)
		goto out;
	r = print_person(a, p, msg);
out:
	json_decref(p);
	json_decref(res);
	json_decref(f);
	json_decref(rev);
	return r;
}

static int person_disable(struct adm *a, const struct adm_cmd *cmd, int argc,
			  char **argv)
{
	return person_status(a, cmd, argc, argv, "disabled");
}

static int person_enable(struct adm *a, const struct adm_cmd *cmd, int argc,
			 char **argv)
{
	return person_status(a, cmd, argc, argv, "active");
}

static void human_orgs(struct adm *a, json_t *doc)
{
	json_t *orgs = json_object_get(doc, "orgs"), *o;
	size_t i;

	printf("organisations of %s (%s):\n", adm_str(doc, "person"),
	       adm_str(doc, "email"));
	if (json_array_size(orgs) == 0) {
		printf("  none\n");
		return;
	}
	printf("  %-24s %-15s %-10s %s\n", "ORGANISATION", "ROLE", "STATUS",
	       "LEGAL NAME");
	json_array_foreach(orgs, i, o) printf(
	    "  %-24s %-15s %-10s %s\n", adm_str(o, "id"), adm_str(o, "role"),
	    adm_str(o, "status"), adm_str(o, "legal_name"));
}

static int person_orgs(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	struct person_in in = {0};
	char *pos[ADM_MAX_POS];
	json_t *p = NULL, *res = NULL, *doc = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, 1, 1, &npos)) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = adm_person(a, pos[0], &p)) != 0)
		return r;
	if ((r = adm_call(a,
			  kt_account_person_orgs(kt_cli_redis(a->cli),
						 adm_str(p, "id"), kt_cli_done,
						 a->cli),
			  &res, "organisations")) == 0) {
		doc = json_pack("{s:s,s:s,s:O}", "person", adm_str(p, "id"),
				"email", adm_str(p, "email"), "orgs",
				json_object_get(res, "orgs"));
		if (doc != NULL)
			adm_print(a, doc, human_orgs);
		else
			r = adm_fail(a, ADM_REFUSED, "internal",
				     "out of memory");
	}
	json_decref(p);
	json_decref(res);
	json_decref(doc);
	return r;
}

/* Memberships -------------------------------------------------------------- */

static void human_member(struct adm *a, json_t *doc)
{
	char t[32];

	printf("%s\n\n", adm_str(doc, "message"));
	adm_kv("organisation", adm_str(doc, "org"));
	adm_kv("person", adm_str(doc, "person"));
	adm_kv("email", adm_str(doc, "email"));
	adm_kv("role", adm_str(doc, "role"));
	adm_kv("granted by", adm_str(doc, "granted_by"));
	adm_time(t, adm_str(doc, "granted_at"));
	adm_kv("granted at", t);
}

/* member add / member role: the same call in two modes. */
static int member_write(struct adm *a, const struct adm_cmd *cmd, int argc,
			char **argv, int add)
{
	struct person_in in = {.allowed = add ? 1u << (P_ROLE - P_EMAIL) : 0};
	char *pos[ADM_MAX_POS], msg[300];
	const char *role, *pid;
	json_t *p = NULL, *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, add ? 2 : 3, add ? 2 : 3, &npos)) != 0 ||
	    (r = adm_check_id(a, "organisation id", pos[0])) != 0)
		return r;
	if (add && in.role == NULL)
		return adm_usage(a, "--role is required (admin, member or "
				    "representative)");
	role = add ? in.role : pos[2];
	if ((r = check_role(a, add ? "--role" : "ROLE", role)) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = adm_person(a, pos[1], &p)) != 0)
		return r;
	pid = adm_str(p, "id");
	r = adm_call(
	    a,
	    add ? kt_account_member_add(kt_cli_redis(a->cli), pos[0], pid, role,
					a->actor, kt_cli_done, a->cli)
		: kt_account_member_change(kt_cli_redis(a->cli), pos[0], pid,
					   role, a->actor, kt_cli_done, a->cli),
	    &res, "membership");
	if (r == 0) {
		snprintf(msg, sizeof(msg), "%s %s (%s) %s %s in %s",
			 add ? "added" : "changed", pid, adm_str(p, "email"),
			 add ? "as" : "to", role, pos[0]);
		json_object_set_new(res, "org", json_string(pos[0]));
		json_object_set_new(res, "person", json_string(pid));
		json_object_set_new(res, "email",
				    json_string(adm_str(p, "email")));
		json_object_set_new(res, "message", json_string(msg));
		adm_print(a, res, human_member);
	}
	json_decref(p);
	json_decref(res);
	return r;
}

static int member_add(struct adm *a, const struct adm_cmd *cmd, int argc,
		      char **argv)
{
	return member_write(a, cmd, argc, argv, 1);
}

static int member_role(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	return member_write(a, cmd, argc, argv, 0);
}

static void human_removed(struct adm *a, json_t *doc)
{
	printf("%s\n", adm_str(doc, "message"));
}

static int member_remove(struct adm *a, const struct adm_cmd *cmd, int argc,
			 char **argv)
{
	struct person_in in = {0};
	char *pos[ADM_MAX_POS], msg[300];
	json_t *p = NULL, *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, 2, 2, &npos)) != 0 ||
	    (r = adm_check_id(a, "organisation id", pos[0])) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = adm_person(a, pos[1], &p)) != 0)
		return r;
	r = adm_call(a,
		     kt_account_member_remove(kt_cli_redis(a->cli), pos[0],
					      adm_str(p, "id"), a->actor,
					      kt_cli_done, a->cli),
		     &res, "membership");
	if (r == 0) {
		snprintf(msg, sizeof(msg), "removed %s (%s) from %s",
			 adm_str(p, "id"), adm_str(p, "email"), pos[0]);
		json_object_set_new(res, "org", json_string(pos[0]));
		json_object_set_new(res, "person",
				    json_string(adm_str(p, "id")));
		json_object_set_new(res, "message", json_string(msg));
		adm_print(a, res, human_removed);
	}
	json_decref(p);
	json_decref(res);
	return r;
}

static void human_members(struct adm *a, json_t *doc)
{
	json_t *m = json_object_get(doc, "members"), *e;
	size_t i;
	char t[32];

	printf("members of %s:\n", adm_str(doc, "org"));
	if (json_array_size(m) == 0) {
		printf("  none\n");
		return;
	}
	printf("  %-24s %-32s %-15s %-20s %s\n", "PERSON", "EMAIL", "ROLE",
	       "GRANTED AT", "GRANTED BY");
	json_array_foreach(m, i, e)
	{
		adm_time(t, adm_str(e, "granted_at"));
		printf("  %-24s %-32s %-15s %-20s %s\n", adm_str(e, "person"),
		       adm_str(e, "email"), adm_str(e, "role"), t,
		       adm_str(e, "granted_by"));
	}
}

static int member_list(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	struct person_in in = {0};
	char *pos[ADM_MAX_POS];
	json_t *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, person_opts, on_person_opt, &in,
			   pos, 1, 1, &npos)) != 0 ||
	    (r = adm_check_id(a, "organisation id", pos[0])) != 0 ||
	    (r = adm_connect(a)) != 0)
		return r;
	if ((r = adm_call(a,
			  kt_account_org_members(kt_cli_redis(a->cli), pos[0],
						 kt_cli_done, a->cli),
			  &res, "members")) == 0)
		adm_print(a, res, human_members);
	json_decref(res);
	return r;
}

const struct adm_cmd adm_person_cmds[] = {
    {"person", "create",
     "person create --email EMAIL [--name NAME] [--verified]\n"
     "        (--password-env VAR | --password-stdin)",
     "create a person (a login account)",
     "DESCRIPTION\n"
     "    Creates a person who can log in with EMAIL and the password.\n"
     "    The email is checked and its domain lower-cased; it must not be\n"
     "    registered yet (exit 1). The password never appears on the\n"
     "    command line: it is read from the environment variable VAR or\n"
     "    from the first line of standard input, must satisfy the\n"
     "    password policy (at least 12 characters) and is stored as a\n"
     "    scrypt hash with the configured parameters (the defaults\n"
     "    without --config). Audited as person.create.\n"
     "\n"
     "OPTIONS\n"
     "    --email EMAIL          the login (required)\n"
     "    --name NAME            display name\n"
     "    --verified             mark the email as verified\n"
     "    --password-env VAR     read the password from $VAR\n"
     "    --password-stdin       read it from standard input\n"
     "\n"
     "EXAMPLES\n"
     "    PW='correct horse battery staple' kontor-admin person create \\\n"
     "        --email anna@example.de --name 'Anna Muster' --password-env "
     "PW\n",
     person_create},
    {"person", "show", "person show EMAIL|ID", "show a person",
     "DESCRIPTION\n"
     "    Prints the person found by email (anything with an '@') or id.\n"
     "    Secrets are never shown: the password hash and the TOTP secret\n"
     "    appear only as \"set\"/\"none\" and \"enrolled\"/\"none\".\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin person show anna@example.de\n",
     person_show},
    {"person", "disable", "person disable EMAIL|ID",
     "disable a person and end their sessions",
     "DESCRIPTION\n"
     "    Sets the status to disabled (audited as person.disable): the\n"
     "    person can no longer log in or refresh tokens, and every\n"
     "    browser session of theirs is ended (session.revoke_all).\n"
     "    Memberships stay. Disabling a disabled person succeeds without\n"
     "    a change.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin person disable anna@example.de\n",
     person_disable},
    {"person", "enable", "person enable EMAIL|ID", "enable a disabled person",
     "DESCRIPTION\n"
     "    Sets the status back to active (audited as person.enable).\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin person enable anna@example.de\n",
     person_enable},
    {"person", "orgs", "person orgs EMAIL|ID",
     "list the organisations a person may act for",
     "DESCRIPTION\n"
     "    Lists the person's organisations with their role, sorted by\n"
     "    legal name. Each entry is verified against the organisation's\n"
     "    own member list (the person's index is only a hint), and merged\n"
     "    organisations appear as the one they were merged into.\n"
     "    Suspended ones are listed with their status.\n"
     "\n"
     "OUTPUT\n"
     "    With --json: {\"person\", \"email\", \"orgs\": [organisation\n"
     "    fields + \"role\"]}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin person orgs anna@example.de\n",
     person_orgs},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct adm_cmd adm_member_cmds[] = {
    {"member", "add",
     "member add ORG EMAIL|ID --role admin|member|representative",
     "make a person a member of an organisation",
     "DESCRIPTION\n"
     "    Adds the person to organisation ORG with a role: admin (manages\n"
     "    the organisation and its members), member (acts for it), or\n"
     "    representative (acts on its behalf from outside, e.g. a tax\n"
     "    adviser). A person who is already a member is a conflict (exit\n"
     "    1): use 'member role'. Audited as member.add with who granted\n"
     "    it and when.\n"
     "\n"
     "OPTIONS\n"
     "    --role ROLE    admin, member or representative (required)\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin member add 8fJ2kq0cXbqvYl1m3nA2Tw anna@example.de "
     "--role admin\n",
     member_add},
    {"member", "role", "member role ORG EMAIL|ID admin|member|representative",
     "change a member's role",
     "DESCRIPTION\n"
     "    Changes the role of an existing member (exit 1 if the person is\n"
     "    not a member). The last admin of an active organisation cannot\n"
     "    be demoted (exit 1): make someone else admin first. Audited as\n"
     "    member.role.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin member role 8fJ2kq0cXbqvYl1m3nA2Tw anna@example.de "
     "member\n",
     member_role},
    {"member", "remove", "member remove ORG EMAIL|ID",
     "remove a person from an organisation",
     "DESCRIPTION\n"
     "    Ends the membership. The last admin of an active organisation\n"
     "    cannot be removed (exit 1). Audited as member.remove.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin member remove 8fJ2kq0cXbqvYl1m3nA2Tw anna@example.de\n",
     member_remove},
    {"member", "list", "member list ORG", "list an organisation's members",
     "DESCRIPTION\n"
     "    Lists the members with email, name, role, and who granted the\n"
     "    role when, sorted by email. A merged id lists the members of\n"
     "    the organisation it was merged into.\n"
     "\n"
     "OUTPUT\n"
     "    With --json: {\"org\", \"members\": [{\"person\", \"email\",\n"
     "    \"name\", \"status\", \"role\", \"granted_by\", \"granted_at\"}]}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin member list 8fJ2kq0cXbqvYl1m3nA2Tw\n",
     member_list},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
