#include <string.h>

#include "gateway.h"
#include "federation.h"
#include "handlers.h"

#define GET KT_ROUTE_GET
#define POST KT_ROUTE_POST
#define B KT_ROUTE_BROWSER
#define F KT_ROUTE_FORM

const struct kt_route kt_routes[] = {
    {"/.well-known/openid-configuration", GET, kt_h_discovery, "discovery"},
    {"/.well-known/oauth-authorization-server", GET, kt_h_discovery,
     "discovery"},
    {"/jwks", GET, kt_h_jwks, "jwks"},
    {"/authorize", GET | POST | B | F, kt_h_authorize, "authorize"},
    {"/login", POST | B | F, kt_h_login, "login"},
    {"/consent", POST | B | F, kt_h_consent, "consent"},
    {"/select-account", POST | B | F, kt_h_select_account, "select_account"},
    {"/select-org", POST | B | F, kt_h_select_org, "select_org"},
    {"/par", POST | F, kt_h_par, "par"},
    {"/token", POST | F, kt_h_token, "token"},
    {"/userinfo", GET | POST | F, kt_h_userinfo, "userinfo"},
    {"/introspect", POST | F, kt_h_introspect, "introspect"},
    {"/revoke", POST | F, kt_h_revoke, "revoke"},
    {"/logout", GET | POST | B | F, kt_h_logout, "logout"},
    {"/register", POST | KT_ROUTE_RAW, kt_h_register, "register"},
    {"/healthz", GET, kt_h_healthz, "healthz"},
    {"/metrics", GET, kt_h_metrics, "metrics"},
    {"/account", GET | B, kt_h_account, "account"},
    {"/account/password", POST | B | F, kt_h_account_password, "account"},
    {"/account/sessions/end", POST | B | F, kt_h_account_session_end,
     "account"},
    {"/account/totp", GET | POST | B | F, kt_h_account_totp, "account"},
    {"/account/totp/remove", POST | B | F, kt_h_account_totp_remove,
     "account"},
    {"/account/org", GET | B, kt_h_account_org, "account"},
    {"/account/org/invite", POST | B | F, kt_h_account_org, "account"},
    {"/account/org/role", POST | B | F, kt_h_account_org, "account"},
    {"/account/org/remove", POST | B | F, kt_h_account_org, "account"},
    {"/invite", GET | POST | B | F, kt_h_invite, "invite"},
    {"/invite/login", GET | B, kt_h_invite_login, "invite"},
    {"/invite/register", POST | B | F, kt_h_invite_register, "invite"},
    {"/federate", POST | B | F, kt_h_federate, "federate"},
    {"/federate/callback", GET | B, kt_h_federate_callback, "federate"},
    {"/federate/logged-out", GET | B, kt_h_federate_logged_out, "federate"},
    {"/logout/done", GET | B, kt_h_logout_done, "logout"},
    {"/", GET | B, kt_h_index, "index"},
    {NULL, 0, NULL, NULL},
};

const struct kt_route *kt_route_find(const char *path)
{
	for (const struct kt_route *r = kt_routes; r->path != NULL; r++)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}
