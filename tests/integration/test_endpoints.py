"""Introspection, revocation, RP-initiated logout, dynamic registration,
private_key_jwt, client_credentials, consent."""

import base64
import json
import secrets
import time
import unittest
import urllib.parse

import requests
from authlib.jose import JsonWebKey, jwt

from harness import Browser, DEMO_PASSWORD, Gateway, jwt_parts

SECRET = "portal-secret-0123456789-0123456789-xyz"
CB = "http://127.0.0.1:9/cb"
BYE = "http://127.0.0.1:9/bye"
EMAIL = "bernd@example.com"

KEY = JsonWebKey.generate_key("EC", "P-256", is_private=True)
OTHER_KEY = JsonWebKey.generate_key("EC", "P-256", is_private=True)
PUB = dict(KEY.as_dict(is_private=False), use="sig", alg="ES256")

CLIENTS = [
    {"client_id": "portal", "client_secret": SECRET,
     "redirect_uris": [CB], "skip_consent": True,
     "post_logout_redirect_uris": [BYE],
     "grant_types": ["authorization_code", "refresh_token"]},
    {"client_id": "rs", "client_secret": SECRET,
     "grant_types": ["client_credentials"], "scope": "orders:read audit"},
    {"client_id": "jwt-client", "token_endpoint_auth_method": "private_key_jwt",
     "jwks": {"keys": [PUB]}, "redirect_uris": [CB], "skip_consent": True,
     "grant_types": ["authorization_code", "client_credentials"],
     "scope": "openid email orders:read"},
]


def assertion(client_id, aud, key=KEY, alg="ES256", **over):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud,
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": PUB["kid"]}, claims, key).decode()


def b64(d):
    return base64.urlsafe_b64encode(
        json.dumps(d).encode()).rstrip(b"=").decode()


class Endpoints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(CLIENTS, people=[{"email": EMAIL, "name": "Bernd"}])

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    def tokens(self, b=None, client="portal"):
        b = b or Browser(self.gw)
        p = b.login_flow(client, CB, EMAIL, DEMO_PASSWORD)
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": p["code"], "redirect_uri": CB,
                           "code_verifier": b.verifier},
                          auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200, r.text)
        return b, r.json()

    def introspect(self, token, auth=("rs", SECRET)):
        return requests.post(self.gw.url + "/introspect",
                             data={"token": token}, auth=auth)

    # introspection -------------------------------------------------------
    def test_introspection(self):
        _, tok = self.tokens()
        r = self.introspect(tok["access_token"])
        self.assertEqual(r.status_code, 200)
        j = r.json()
        self.assertTrue(j["active"])
        self.assertEqual(j["client_id"], "portal")
        self.assertIn("openid", j["scope"])
        self.assertGreater(j["exp"], time.time())
        rt = self.introspect(tok["refresh_token"], auth=("portal", SECRET))
        self.assertTrue(rt.json()["active"])
        # another client does not learn about someone else's refresh token
        self.assertFalse(self.introspect(tok["refresh_token"]).json()["active"])
        self.assertFalse(self.introspect("garbage").json()["active"])
        # unauthenticated callers are refused
        r = requests.post(self.gw.url + "/introspect",
                          data={"token": tok["access_token"]})
        self.assertIn(r.status_code, (400, 401))
        self.assertEqual(r.json()["error"], "invalid_client")

    # revocation ------------------------------------------------------------
    def test_revoke_refresh_token_revokes_grant(self):
        _, tok = self.tokens()
        r = requests.post(self.gw.url + "/revoke",
                          data={"token": tok["refresh_token"]},
                          auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200)
        self.assertFalse(self.introspect(tok["access_token"]).json()["active"])
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": tok["refresh_token"]},
                          auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "invalid_grant")

    def test_revoke_access_token(self):
        _, tok = self.tokens()
        r = requests.post(self.gw.url + "/revoke",
                          data={"token": tok["access_token"],
                                "token_type_hint": "access_token"},
                          auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200)
        self.assertFalse(self.introspect(tok["access_token"]).json()["active"])
        # the refresh token lives on
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": tok["refresh_token"]},
                          auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200)
        # unknown tokens: 200 as RFC 7009 says
        r = requests.post(self.gw.url + "/revoke", data={"token": "nope"},
                          auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200)

    def test_revoke_other_clients_token_refused(self):
        _, tok = self.tokens()
        r = requests.post(self.gw.url + "/revoke",
                          data={"token": tok["access_token"]},
                          auth=("rs", SECRET))
        self.assertEqual(r.status_code, 400)
        self.assertTrue(self.introspect(tok["access_token"]).json()["active"])

    # logout -----------------------------------------------------------------
    def test_logout_with_id_token_hint(self):
        b, tok = self.tokens()
        r = b.get(self.gw.url + "/logout", params={
            "id_token_hint": tok["id_token"],
            "post_logout_redirect_uri": BYE, "state": "xyz"})
        self.assertEqual(r.status_code, 303, r.text[:300])
        loc = urllib.parse.urlsplit(r.headers["Location"])
        self.assertEqual(loc.netloc + loc.path, "127.0.0.1:9/bye")
        self.assertEqual(urllib.parse.parse_qs(loc.query)["state"], ["xyz"])
        # the session is gone: the next authorization asks for a password
        r = b.authorize("portal", CB)
        self.assertIn('name="password"', r.text)

    def test_logout_unregistered_redirect_is_error_page(self):
        b, tok = self.tokens()
        r = b.get(self.gw.url + "/logout", params={
            "id_token_hint": tok["id_token"],
            "post_logout_redirect_uri": "https://evil.example/"})
        self.assertEqual(r.status_code, 400)
        self.assertNotIn("Location", r.headers)
        # query added to a registered URI is not the registered URI
        r = b.get(self.gw.url + "/logout", params={
            "id_token_hint": tok["id_token"],
            "post_logout_redirect_uri": BYE + "?x=1"})
        self.assertEqual(r.status_code, 400)
        # modified hint
        h, p, s = tok["id_token"].split(".")
        claims = jwt_parts(tok["id_token"])[1]
        claims["sub"] = "someone-else"
        r = b.get(self.gw.url + "/logout", params={
            "id_token_hint": h + "." + b64(claims) + "." + s})
        self.assertEqual(r.status_code, 400)
        # still logged in after all that
        r = b.authorize("portal", CB)
        self.assertEqual(r.status_code, 303)

    def test_logout_without_hint_asks_first(self):
        b, _ = self.tokens()
        r = b.get(self.gw.url + "/logout")
        self.assertEqual(r.status_code, 200)
        self.assertIn('value="logout"', r.text)
        # a forged confirmation (no valid csrf) is refused
        bad = b.post(self.gw.url + "/logout",
                     data={"decision": "logout", "csrf": "forged"})
        self.assertEqual(bad.status_code, 403)
        self.assertEqual(b.authorize("portal", CB).status_code, 303)
        done = b.submit(r, {}, button=("decision", "logout"))
        # post/redirect/get: a reload of the result page logs out nothing
        self.assertEqual(done.status_code, 303)
        self.assertEqual(done.headers["Location"], "/logout/done")
        done = b.get(self.gw.url + "/logout/done")
        self.assertEqual(done.status_code, 200)
        self.assertIn('role="status"', done.text)
        self.assertIn('name="password"', b.authorize("portal", CB).text)

    # client credentials ----------------------------------------------------
    def test_client_credentials(self):
        r = self.gw.token({"grant_type": "client_credentials",
                           "scope": "orders:read openid"},
                          auth=("rs", SECRET))
        self.assertEqual(r.status_code, 200, r.text)
        j = r.json()
        self.assertEqual(j["scope"], "orders:read")
        self.assertNotIn("refresh_token", j)
        self.assertNotIn("id_token", j)
        hdr, at = jwt_parts(j["access_token"])
        self.assertEqual(at["sub"], "rs")
        self.assertTrue(self.introspect(j["access_token"]).json()["active"])
        # an end-user endpoint refuses a token without a user
        u = requests.get(self.gw.url + "/userinfo", headers={
            "Authorization": "Bearer " + j["access_token"]})
        self.assertEqual(u.status_code, 403)
        # wrong secret
        r = self.gw.token({"grant_type": "client_credentials"},
                          auth=("rs", SECRET + "x"))
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json()["error"], "invalid_client")
        self.assertIn("Basic", r.headers["WWW-Authenticate"])
        # grant not registered for the client
        r = self.gw.token({"grant_type": "client_credentials"},
                          auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "unauthorized_client")

    # private_key_jwt ---------------------------------------------------------
    def cc_with(self, a):
        return self.gw.token({
            "grant_type": "client_credentials", "scope": "orders:read",
            "client_assertion_type":
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": a})

    def test_private_key_jwt(self):
        token_ep = self.gw.url + "/token"
        a = assertion("jwt-client", token_ep)
        r = self.cc_with(a)
        self.assertEqual(r.status_code, 200, r.text)
        # replay of the same assertion
        r = self.cc_with(a)
        self.assertEqual(r.json()["error"], "invalid_client")
        # issuer as audience is fine too
        self.assertEqual(self.cc_with(assertion("jwt-client", self.gw.url))
                         .status_code, 200)
        # wrong key, wrong audience, expired, too long-lived, issued in
        # the future, no exp at all
        for bad in (assertion("jwt-client", token_ep, key=OTHER_KEY),
                    assertion("jwt-client", "https://other.example/token"),
                    assertion("jwt-client", token_ep,
                              exp=int(time.time()) - 600),
                    assertion("jwt-client", token_ep,
                              exp=int(time.time()) + 86400),  # > 1 h
                    assertion("jwt-client", token_ep,
                              iat=int(time.time()) + 3600),
                    assertion("jwt-client", token_ep, exp=None)):
            r = self.cc_with(bad)
            self.assertEqual(r.json()["error"], "invalid_client", bad)
        # the signature check is liboauth2's, named in the description
        r = self.cc_with(assertion("jwt-client", token_ep, key=OTHER_KEY))
        self.assertIn("liboauth2", r.json()["error_description"])

    def test_private_key_jwt_alg_none_and_confusion(self):
        now = int(time.time())
        claims = {"iss": "jwt-client", "sub": "jwt-client",
                  "aud": self.gw.url, "jti": "n1", "exp": now + 60}
        none = b64({"alg": "none"}) + "." + b64(claims) + "."
        r = self.cc_with(none)
        self.assertEqual(r.json()["error"], "invalid_client")
        self.assertIn("none", r.json()["error_description"])
        # HS256 keyed with the public key (classic confusion attack)
        hs = jwt.encode({"alg": "HS256"}, dict(claims, jti="n2"),
                        json.dumps(PUB).encode()).decode()
        r = self.cc_with(hs)
        self.assertEqual(r.json()["error"], "invalid_client")

    def test_private_key_jwt_login(self):
        b = Browser(self.gw)
        p = b.login_flow("jwt-client", CB, EMAIL, DEMO_PASSWORD,
                         scope="openid email")
        r = self.gw.token({
            "grant_type": "authorization_code", "code": p["code"],
            "redirect_uri": CB, "code_verifier": b.verifier,
            "client_assertion_type":
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion("jwt-client",
                                          self.gw.url + "/token")})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(jwt_parts(r.json()["id_token"])[1]["email"], EMAIL)

    # dynamic registration ----------------------------------------------------
    def register(self, meta, token="test-registration-token"):
        h = {"Authorization": "Bearer " + token} if token else {}
        return requests.post(self.gw.url + "/register", json=meta, headers=h)

    def test_registration_and_consent(self):
        r = self.register({"redirect_uris": [CB], "client_name": "Neu GmbH",
                           "token_endpoint_auth_method": "client_secret_basic",
                           "grant_types": ["authorization_code"],
                           "response_types": ["code"]})
        self.assertEqual(r.status_code, 201, r.text)
        reg = r.json()
        self.assertEqual(reg["redirect_uris"], [CB])
        self.assertTrue(reg["client_secret"])
        self.assertEqual(reg["client_secret_expires_at"], 0)
        cid = reg["client_id"]
        # the new client logs a person in, with a consent page
        b = Browser(self.gw)
        page = b.authorize(cid, CB, extra={"ui_locales": "en"})
        page = b.login(page, EMAIL, DEMO_PASSWORD)
        self.assertEqual(page.status_code, 200, page.text[:300])
        self.assertIn("Neu GmbH", page.text)
        self.assertIn('value="allow"', page.text)
        done = b.submit(page, {}, button=("decision", "allow"))
        p = Browser.callback_params(done)
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": p["code"], "redirect_uri": CB,
                           "code_verifier": b.verifier},
                          auth=(cid, reg["client_secret"]))
        self.assertEqual(r.status_code, 200, r.text)
        # consent is remembered
        again = b.authorize(cid, CB)
        self.assertEqual(again.status_code, 303)
        # prompt=consent asks again, and deny is honoured
        page = b.authorize(cid, CB, extra={"prompt": "consent"})
        deny = b.submit(page, {}, button=("decision", "deny"))
        self.assertEqual(Browser.callback_params(deny)["error"],
                         "access_denied")

    def test_registration_refusals(self):
        r = self.register({"redirect_uris": [CB]}, token=None)
        self.assertEqual(r.status_code, 401)
        r = self.register({"redirect_uris": [CB]}, token="wrong-token-123456")
        self.assertEqual(r.status_code, 401)
        r = self.register({"redirect_uris": ["http://evil.example/cb"]})
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json()["error"], "invalid_redirect_uri")
        r = self.register({"redirect_uris": [CB + "#frag"]})
        self.assertEqual(r.json()["error"], "invalid_redirect_uri")
        r = self.register({"redirect_uris": [CB], "skip_consent": True})
        self.assertEqual(r.json()["error"], "invalid_client_metadata")
        r = requests.post(self.gw.url + "/register", data="{not json",
                          headers={"Authorization":
                                   "Bearer test-registration-token",
                                   "Content-Type": "application/json"})
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json()["error"], "invalid_client_metadata")
        r = requests.post(self.gw.url + "/register", data="x=1",
                          headers={"Authorization":
                                   "Bearer test-registration-token"})
        self.assertEqual(r.status_code, 415)

    def test_private_key_jwt_short_ec_coordinate(self):
        """Some libraries (authlib 1.2) drop a leading zero byte of an EC
        coordinate; the key is the same and must still verify."""
        import base64 as b64mod
        while True:
            key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
            pub = key.as_dict(is_private=False)
            raw = b64mod.urlsafe_b64decode(pub["x"] + "=" * (-len(pub["x"]) % 4))
            if len(raw) < 32:  # authlib dropped the leading zero byte
                break
        pub = dict(pub, use="sig", alg="ES256")
        r = self.register({"redirect_uris": [CB],
                           "token_endpoint_auth_method": "private_key_jwt",
                           "jwks": {"keys": [pub]},
                           "grant_types": ["client_credentials"],
                           "scope": "orders:read"})
        self.assertEqual(r.status_code, 201, r.text)
        cid = r.json()["client_id"]
        now = int(time.time())
        a = jwt.encode({"alg": "ES256", "kid": pub["kid"]},
                       {"iss": cid, "sub": cid, "aud": self.gw.url,
                        "jti": secrets.token_urlsafe(8), "exp": now + 60},
                       key).decode()
        self.assertEqual(self.cc_with(a).status_code, 200)

    def test_registered_private_key_jwt_client(self):
        r = self.register({"redirect_uris": [CB],
                           "token_endpoint_auth_method": "private_key_jwt",
                           "jwks": {"keys": [PUB]},
                           "grant_types": ["client_credentials"],
                           "scope": "orders:read"})
        self.assertEqual(r.status_code, 201, r.text)
        cid = r.json()["client_id"]
        self.assertNotIn("client_secret", r.json())
        t = self.cc_with(assertion(cid, self.gw.url + "/token"))
        self.assertEqual(t.status_code, 200, t.text)


if __name__ == "__main__":
    unittest.main()
