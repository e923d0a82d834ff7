/*
 * Minting tokens. Access tokens are self-contained JWTs (RFC 9068) so that
 * resource servers can verify them offline; Redis only remembers
 * revocations, keyed so that revoking a grant reaches its tokens at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/jose.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/pairwise.h"
#include "kontor/util.h"

#include "tokens.h"

/*
 * A flat JSON object written straight into one buffer, for the token
 * endpoint's hot path: jansson's json_pack + json_dumps of the access
 * token's claims and of the response cost about a seventh of a
 * client_credentials request. Names are our constants; string values are
 * escaped with kt_json_escape (the log's escaper). Like json_pack, a value
 * that is not UTF-8 fails the whole object rather than being altered.
 */
struct jfield {
	const char *name;
	const char *str; /* NULL: the number num */
	long long num;
};

static int json_flat(const struct jfield *f, size_t n, char **out,
		     size_t *outlen)
{
	size_t cap = 3, off = 0;
	char *buf;
	int cut = 0;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t vlen = f[i].str ? strlen(f[i].str) : 0;
		if (f[i].str != NULL && !kt_utf8_valid(f[i].str, vlen))
			return KT_ERR_INVALID;
		/* ,"name": plus 6 bytes per escaped byte and quotes, or a
		 * 64-bit number. */
		cap += strlen(f[i].name) + 4 + (f[i].str ? 6 * vlen + 2 : 21);
	}
	if ((buf = malloc(cap)) == NULL)
		return KT_ERR_NOMEM;
	buf[off++] = '{';
	for (size_t i = 0; i < n; i++) {
		size_t nlen = strlen(f[i].name);
		if (i > 0)
			buf[off++] = ',';
		buf[off++] = '"';
		memcpy(buf + off, f[i].name, nlen);
		off += nlen;
		buf[off++] = '"';
		buf[off++] = ':';
		if (f[i].str != NULL) {
			buf[off++] = '"';
			off = kt_json_escape(buf, cap, off, f[i].str, &cut);
			buf[off++] = '"';
		} else {
			off += kt_fmt_int(buf + off, f[i].num);
		}
	}
	buf[off++] = '}';
	buf[off] = '\0';
	if (cut || off >= cap) { /* cannot happen: cap is an upper bound */
		free(buf);
		return KT_ERR_INTERNAL;
	}
	*out = buf;
	if (outlen != NULL)
		*outlen = off;
	return KT_OK;
}

static int sign_str(struct kt_req *r, const char *alg, const char *typ,
		    const char *payload, size_t len, char **out)
{
	struct kt_error err;
	int rc;

	rc = kt_keyset_sign(r->rt->keys, alg, typ, payload, len, out, &err);
	if (rc != KT_OK)
		kt_log_error_r(rc, "signing failed: %s", err.msg);
	return rc;
}

static int sign(struct kt_req *r, const char *alg, const char *typ,
		json_t *claims, char **out)
{
	char *payload = json_dumps(claims, JSON_COMPACT);
	int rc;

	if (payload == NULL)
		return KT_ERR_NOMEM;
	rc = sign_str(r, alg, typ, payload, strlen(payload), out);
	free(payload);
	return rc;
}

static json_t *amr_array(const char *amr)
{
	json_t *a = json_array();
	char buf[128], *save = NULL, *tok;

	if (a == NULL || amr == NULL)
		return a;
	snprintf(buf, sizeof(buf), "%s", amr);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		json_array_append_new(a, json_string(tok));
	return a;
}

int kt_tok_access(struct kt_req *r, const struct kt_client *c,
		  const struct kt_tok_subject *s, char **out)
{
	const struct kt_config *cfg = kt_req_cfg(r);
	char rnd[32], jti[128], sub[KT_PAIRWISE_LEN + 1];
	int64_t now = kt_now();
	struct jfield f[11];
	char *payload = NULL;
	size_t n = 0, len;
	int rc;

	*out = NULL;
	if ((rc = kt_random_token(rnd, sizeof(rnd), 16)) != KT_OK)
		return rc;
	if (s->gid)
		snprintf(jti, sizeof(jti), "%s.%s", s->gid, rnd);
	else
		snprintf(jti, sizeof(jti), "%s", rnd);
	if (s->person != NULL &&
	    (rc = kt_tok_sub(r, c, s->person, sub)) != KT_OK)
		return rc;
	/* The claims in the order json_pack gave them before. */
	f[n++] = (struct jfield){"iss", cfg->issuer, 0};
	f[n++] = (struct jfield){"sub", s->person ? sub : c->client_id, 0};
	f[n++] = (struct jfield){"aud", cfg->issuer, 0};
	f[n++] = (struct jfield){"client_id", c->client_id, 0};
	f[n++] = (struct jfield){"iat", NULL, (long long)now};
	f[n++] = (struct jfield){
	    "exp", NULL, (long long)(now + cfg->tokens_access_token_ttl_s)};
	f[n++] = (struct jfield){"jti", jti, 0};
	f[n++] = (struct jfield){"scope", s->scope ? s->scope : "", 0};
	if (s->auth_time > 0)
		f[n++] = (struct jfield){"auth_time", NULL,
					 (long long)s->auth_time};
	if (s->acr)
		f[n++] = (struct jfield){"acr", s->acr, 0};
	if (s->sid)
		f[n++] = (struct jfield){"sid", s->sid, 0};
	if ((rc = json_flat(f, n, &payload, &len)) != KT_OK) {
		kt_log_error_r(rc, "access token claims cannot be written");
		return rc;
	}
	rc = sign_str(r, KT_CLIENT_ACCESS_TOKEN_ALG, "at+jwt", payload, len,
		      out);
	free(payload);
	return rc;
}

int kt_tok_response(const char *access_token, int64_t expires_in,
		    const char *scope, const char *id_token,
		    const char *refresh_token, char **out)
{
	struct jfield f[6];
	size_t n = 0;

	f[n++] = (struct jfield){"access_token", access_token, 0};
	f[n++] = (struct jfield){"token_type", "Bearer", 0};
	f[n++] = (struct jfield){"expires_in", NULL, (long long)expires_in};
	f[n++] = (struct jfield){"scope", scope ? scope : "", 0};
	if (id_token != NULL)
		f[n++] = (struct jfield){"id_token", id_token, 0};
	if (refresh_token != NULL)
		f[n++] = (struct jfield){"refresh_token", refresh_token, 0};
	return json_flat(f, n, out, NULL);
}

/*
 * Claims and the scope that covers each. A claim goes out if its scope was
 * granted, or if the claims parameter names it and the client is
 * registered for its scope: nothing beyond what the portal was admitted to
 * (claim minimisation; register identifiers only with company_identifiers).
 */
enum claim_src { C_PERSON, C_ORG, C_ROLE, C_VERIFIED, C_ORG_ID };

static const struct claim_def {
	const char *claim;
	const char *scope;
	enum claim_src src;
	const char *field; /* record field */
	const char *valid; /* validity flag field, or NULL */
} claim_defs[] = {
    {"name", "profile", C_PERSON, "name", NULL},
    {"email", "email", C_PERSON, "email", NULL},
    {"email_verified", "email", C_VERIFIED, "email_verified", NULL},
    {"org_id", "company", C_ORG_ID, "id", NULL},
    {"org_name", "company", C_ORG, "legal_name", NULL},
    {"org_legal_form", "company", C_ORG, "legal_form", NULL},
    {"org_role", "company", C_ROLE, NULL, NULL},
    {"org_vat_id", "company_identifiers", C_ORG, "vat", "vat_valid"},
    {"org_register_court", "company_identifiers", C_ORG, "hr_court_name",
     "hr_valid"},
    {"org_register_type", "company_identifiers", C_ORG, "hr_type",
     "hr_valid"},
    {"org_register_number", "company_identifiers", C_ORG, "hr_number",
     "hr_valid"},
    {"org_wid", "company_identifiers", C_ORG, "wid", "wid_valid"},
};

int kt_tok_sub(struct kt_req *r, const struct kt_client *c,
	       const char *person, char out[KT_PAIRWISE_LEN + 1])
{
	const uint8_t *key;
	size_t keylen;

	if (strcmp(c->subject_type, "public") == 0) {
		if (strlen(person) > KT_PAIRWISE_LEN)
			return KT_ERR_LIMIT;
		memcpy(out, person, strlen(person) + 1);
		return KT_OK;
	}
	kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
	return kt_pairwise_id(key, keylen, "sub", c->sector, person, out);
}

int kt_tok_claims_param_ok(const char *text)
{
	json_t *root, *v, *c;
	json_error_t jerr;
	const char *k, *name;
	int ok = 1;

	if (text == NULL || strlen(text) > 4096)
		return KT_ERR_INVALID;
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return KT_ERR_INVALID;
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "id_token") != 0 && strcmp(k, "userinfo") != 0)
			continue; /* unknown members are ignored (§5.5) */
		if (!json_is_object(v)) {
			ok = 0;
			break;
		}
		json_object_foreach(v, name, c)
		{
			if (!json_is_null(c) && !json_is_object(c))
				ok = 0;
		}
	}
	json_decref(root);
	return ok ? KT_OK : KT_ERR_INVALID;
}

int kt_tok_claims_want_org(const char *claims_json)
{
	static const char *const targets[] = {"id_token", "userinfo"};
	json_error_t jerr;
	json_t *req, *v;
	const char *name;
	int want = 0;

	if (claims_json == NULL || (req = json_loads(claims_json, 0, &jerr)) ==
				       NULL)
		return 0;
	for (size_t t = 0; t < 2; t++)
		json_object_foreach(json_object_get(req, targets[t]), name, v)
			want |= strncmp(name, "org_", 4) == 0;
	json_decref(req);
	return want;
}

static int requested(json_t *req, const char *target, const char *claim)
{
	return req != NULL &&
	       json_object_get(json_object_get(req, target), claim) != NULL;
}

json_t *kt_tok_claims(struct kt_req *r, const struct kt_client *c,
		      const struct kt_tok_subject *s, json_t *person,
		      const char *target)
{
	json_t *out = json_object(), *req = NULL;
	json_error_t jerr;

	if (out == NULL)
		return NULL;
	if (s->claims_req != NULL)
		req = json_loads(s->claims_req, 0, &jerr);
	for (size_t i = 0; i < sizeof(claim_defs) / sizeof(claim_defs[0]);
	     i++) {
		const struct claim_def *d = &claim_defs[i];
		json_t *rec = d->src == C_PERSON || d->src == C_VERIFIED
				  ? person
				  : s->org;
		const char *v;

		if (!kt_scope_has(s->scope, d->scope) &&
		    !(requested(req, target, d->claim) &&
		      kt_scope_has(c->scope, d->scope)))
			continue;
		if (d->src == C_ROLE) {
			if (s->org != NULL && s->role != NULL)
				json_object_set_new(out, d->claim,
						    json_string(s->role));
			continue;
		}
		if (rec == NULL ||
		    (v = json_string_value(json_object_get(rec, d->field))) ==
			NULL ||
		    *v == '\0')
			continue;
		if (d->valid != NULL &&
		    !kt_str_eq(json_string_value(json_object_get(rec, d->valid)),
			       "1"))
			continue; /* unvalidated identifiers never go out */
		if (d->src == C_VERIFIED) {
			json_object_set_new(out, d->claim,
					    json_boolean(strcmp(v, "1") == 0));
		} else if (d->src == C_ORG_ID) {
			const uint8_t *key;
			size_t keylen;
			char pw[KT_PAIRWISE_LEN + 1];
			kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
			if (kt_pairwise_id(key, keylen, "org", c->sector, v,
					   pw) == KT_OK)
				json_object_set_new(out, d->claim,
						    json_string(pw));
		} else {
			json_object_set_new(out, d->claim, json_string(v));
		}
	}
	json_decref(req);
	return out;
}

int kt_tok_id(struct kt_req *r, const struct kt_client *c,
	      const struct kt_tok_subject *s, const char *access_token,
	      json_t *person, char **out)
{
	const struct kt_config *cfg = kt_req_cfg(r);
	char at_hash[KT_JOSE_THUMBPRINT_LEN], sub[KT_PAIRWISE_LEN + 1];
	int64_t now = kt_now();
	json_t *claims, *user;
	int rc;

	*out = NULL;
	if ((rc = kt_tok_sub(r, c, s->person, sub)) != KT_OK)
		return rc;
	claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "iss", cfg->issuer,
			   "sub", sub, "aud", c->client_id, "azp",
			   c->client_id, "iat", (json_int_t)now, "exp",
			   (json_int_t)(now + cfg->tokens_id_token_ttl_s));
	if (claims == NULL)
		return KT_ERR_NOMEM;
	if (s->auth_time > 0)
		json_object_set_new(claims, "auth_time",
				    json_integer(s->auth_time));
	if (s->nonce && *s->nonce)
		json_object_set_new(claims, "nonce", json_string(s->nonce));
	if (s->acr && *s->acr)
		json_object_set_new(claims, "acr", json_string(s->acr));
	if (s->amr && *s->amr)
		json_object_set_new(claims, "amr", amr_array(s->amr));
	if (s->sid && *s->sid)
		json_object_set_new(claims, "sid", json_string(s->sid));
	if (access_token != NULL &&
	    kt_jose_at_hash(c->id_token_alg, access_token, at_hash) == KT_OK)
		json_object_set_new(claims, "at_hash", json_string(at_hash));
	user = kt_tok_claims(r, c, s, person, "id_token");
	json_object_update_missing(claims, user);
	json_decref(user);
	rc = sign(r, c->id_token_alg, "JWT", claims, out);
	json_decref(claims);
	return rc;
}

int kt_tok_jti_gid(const char *jti, char *gid, size_t cap)
{
	const char *dot = strchr(jti, '.');
	size_t n;

	gid[0] = '\0';
	if (dot == NULL)
		return KT_ERR_NOTFOUND;
	n = (size_t)(dot - jti);
	if (n == 0 || n >= cap)
		return KT_ERR_INVALID;
	memcpy(gid, jti, n);
	gid[n] = '\0';
	return KT_OK;
}
