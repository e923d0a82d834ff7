#ifndef KONTOR_IDP_HANDLERS_H
#define KONTOR_IDP_HANDLERS_H

#include "gateway.h"

/* The one acr value issued: a password login (see docs/protocol.md). */
#define KT_ACR_PASSWORD "urn:kontor:acr:password"
/* Authenticated at a state's legacy provider (federation). */
#define KT_ACR_LEGACY "urn:kontor:acr:legacy"

void kt_h_discovery(struct kt_req *r);
void kt_h_jwks(struct kt_req *r);
void kt_h_authorize(struct kt_req *r);
void kt_h_login(struct kt_req *r);
void kt_h_consent(struct kt_req *r);
void kt_h_select_account(struct kt_req *r);
void kt_h_select_org(struct kt_req *r);
void kt_h_par(struct kt_req *r);
void kt_h_token(struct kt_req *r);
void kt_h_userinfo(struct kt_req *r);
void kt_h_introspect(struct kt_req *r);
void kt_h_revoke(struct kt_req *r);
void kt_h_logout(struct kt_req *r);
void kt_h_logout_done(struct kt_req *r);
void kt_h_register(struct kt_req *r);
void kt_h_healthz(struct kt_req *r);
void kt_h_metrics(struct kt_req *r);
void kt_h_index(struct kt_req *r);
void kt_h_account(struct kt_req *r);
void kt_h_account_password(struct kt_req *r);
void kt_h_account_session_end(struct kt_req *r);
void kt_h_account_org(struct kt_req *r);
void kt_h_account_totp(struct kt_req *r);
void kt_h_account_totp_remove(struct kt_req *r);
void kt_h_invite(struct kt_req *r);
void kt_h_invite_accept(struct kt_req *r);
void kt_h_invite_login(struct kt_req *r);
void kt_h_invite_register(struct kt_req *r);

#endif
