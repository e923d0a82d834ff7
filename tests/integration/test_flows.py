"""End-to-end flows over HTTP against a real gateway and Redis: login, SSO,
prompt/max_age, code exchange, refresh rotation and reuse detection, code
reuse, PKCE, userinfo, form_post, PAR."""

import time
import unittest

import requests

from harness import (Browser, DEMO_PASSWORD, Gateway, jwt_parts, parse_forms,
                     pkce_pair)

SECRET = "portal-secret-0123456789-0123456789-xyz"
CB = "http://127.0.0.1:9/cb"
EMAIL = "anna@example.com"

CLIENTS = [
    {"client_id": "portal", "client_secret": SECRET,
     "client_name": "Test Portal",
     "redirect_uris": [CB], "skip_consent": True,
     "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
     "grant_types": ["authorization_code", "refresh_token"]},
    {"client_id": "es-portal", "client_secret": SECRET,
     "redirect_uris": [CB], "skip_consent": True,
     "id_token_signed_response_alg": "ES256",
     "token_endpoint_auth_method": "client_secret_post",
     "grant_types": ["authorization_code"]},
    {"client_id": "public-app", "token_endpoint_auth_method": "none",
     "redirect_uris": [CB], "grant_types": ["authorization_code",
                                           "refresh_token"]},
]


class Flows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(CLIENTS, people=[{"email": EMAIL,
                                           "name": "Anna Beispiel"}])

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    def exchange(self, b, params, client="portal", verifier=None,
                 redirect_uri=CB):
        data = {"grant_type": "authorization_code", "code": params["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier or b.verifier}
        return self.gw.token(data, auth=(client, SECRET))

    def login(self, b=None, client="portal", scope="openid profile email",
              extra=None):
        b = b or Browser(self.gw)
        params = b.login_flow(client, CB, EMAIL, DEMO_PASSWORD, scope, extra)
        return b, params

    def test_discovery_and_jwks(self):
        d = self.gw.discovery()
        self.assertEqual(d["issuer"], self.gw.url)
        self.assertEqual(d["code_challenge_methods_supported"], ["S256"])
        self.assertTrue(d["authorization_response_iss_parameter_supported"])
        for ep in ("authorization_endpoint", "token_endpoint",
                   "userinfo_endpoint", "jwks_uri", "introspection_endpoint",
                   "revocation_endpoint", "end_session_endpoint",
                   "registration_endpoint",
                   "pushed_authorization_request_endpoint"):
            self.assertTrue(d[ep].startswith(self.gw.url), ep)
        # Public documents a shared cache may replay: cacheable, and no
        # request id, which would name no request there.
        for url, age in ((self.gw.url + "/.well-known/openid-configuration",
                          3600), (d["jwks_uri"], 300)):
            r = requests.get(url)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(r.headers["Cache-Control"],
                             "public, max-age=%d" % age)
            self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
            self.assertNotIn("X-Request-Id", r.headers)
        # Every other answer carries the id of its access-log line.
        self.assertRegex(requests.get(self.gw.url + "/nowhere")
                         .headers.get("X-Request-Id", ""),
                         r"^[A-Za-z0-9_-]+-[0-9a-f]+$")
        jwks = requests.get(d["jwks_uri"]).json()
        algs = sorted({k["alg"] for k in jwks["keys"]})
        self.assertEqual(algs, ["ES256", "RS256"])
        for k in jwks["keys"]:
            self.assertNotIn("d", k)  # never a private part

    def test_login_code_token_userinfo(self):
        b, params = self.login()
        self.assertEqual(params["state"], b.state)
        self.assertEqual(params["iss"], self.gw.url)  # RFC 9207
        r = self.exchange(b, params)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["Cache-Control"], "no-store")
        tok = r.json()
        self.assertEqual(tok["token_type"], "Bearer")
        hdr, idt = jwt_parts(tok["id_token"])
        self.assertEqual(hdr["alg"], "RS256")
        self.assertEqual(idt["iss"], self.gw.url)
        self.assertEqual(idt["aud"], "portal")
        self.assertEqual(idt["nonce"], b.nonce)
        self.assertEqual(idt["email"], EMAIL)
        self.assertEqual(idt["name"], "Anna Beispiel")
        for claim in ("sub", "sid", "auth_time", "acr", "at_hash", "exp"):
            self.assertIn(claim, idt)
        ahdr, at = jwt_parts(tok["access_token"])
        self.assertEqual(ahdr["typ"], "at+jwt")  # RFC 9068
        self.assertEqual(ahdr["alg"], "ES256")
        self.assertEqual(at["client_id"], "portal")
        self.assertEqual(at["sub"], idt["sub"])
        # userinfo GET with Bearer, and POST with the form parameter
        u = requests.get(self.gw.url + "/userinfo", headers={
            "Authorization": "Bearer " + tok["access_token"]})
        self.assertEqual(u.status_code, 200, u.text)
        self.assertEqual(u.json(), {"sub": idt["sub"], "email": EMAIL,
                                    "email_verified": True,
                                    "name": "Anna Beispiel"})
        u2 = requests.post(self.gw.url + "/userinfo",
                           data={"access_token": tok["access_token"]})
        self.assertEqual(u2.json(), u.json())
        # no token, bad token
        u3 = requests.get(self.gw.url + "/userinfo")
        self.assertEqual(u3.status_code, 401)
        self.assertIn("Bearer", u3.headers["WWW-Authenticate"])
        u4 = requests.get(self.gw.url + "/userinfo", headers={
            "Authorization": "Bearer " + tok["access_token"][:-4] + "AAAA"})
        self.assertEqual(u4.status_code, 401)
        self.assertIn('error="invalid_token"', u4.headers["WWW-Authenticate"])
        # RFC 6750 §2: one way only, not header and form together
        u5 = requests.post(self.gw.url + "/userinfo",
                           data={"access_token": tok["access_token"]},
                           headers={"Authorization":
                                    "Bearer " + tok["access_token"]})
        self.assertEqual(u5.status_code, 400)
        self.assertIn('error="invalid_request"',
                      u5.headers["WWW-Authenticate"])

    def test_es256_id_token_and_client_secret_post(self):
        b = Browser(self.gw)
        params = b.login_flow("es-portal", CB, EMAIL, DEMO_PASSWORD)
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": params["code"], "redirect_uri": CB,
                           "code_verifier": b.verifier,
                           "client_id": "es-portal",
                           "client_secret": SECRET})
        self.assertEqual(r.status_code, 200, r.text)
        hdr, _ = jwt_parts(r.json()["id_token"])
        self.assertEqual(hdr["alg"], "ES256")
        self.assertNotIn("refresh_token", r.json())
        # the registered method is the only one accepted
        b2 = Browser(self.gw)
        p2 = b2.login_flow("es-portal", CB, EMAIL, DEMO_PASSWORD)
        r2 = self.gw.token({"grant_type": "authorization_code",
                            "code": p2["code"], "redirect_uri": CB,
                            "code_verifier": b2.verifier},
                           auth=("es-portal", SECRET))
        self.assertEqual(r2.status_code, 401)
        self.assertEqual(r2.json()["error"], "invalid_client")

    def test_single_sign_on(self):
        b, _ = self.login()
        r = b.authorize("portal", CB)
        # a live session: straight back to the client with a code
        self.assertEqual(r.status_code, 303, r.text[:300])
        p = Browser.callback_params(r)
        self.assertIn("code", p)
        tok = self.exchange(b, p).json()
        _, idt = jwt_parts(tok["id_token"])
        self.assertEqual(idt["nonce"], b.nonce)

    def test_prompt_login_and_max_age(self):
        b, _ = self.login()
        r = b.authorize("portal", CB, extra={"prompt": "login"})
        self.assertEqual(r.status_code, 200)
        self.assertIn('name="password"', r.text)
        time.sleep(1.1)
        r = b.authorize("portal", CB, extra={"max_age": "0"})
        self.assertIn('name="password"', r.text)
        r = b.authorize("portal", CB, extra={"max_age": "3600"})
        self.assertEqual(r.status_code, 303)

    def test_prompt_none(self):
        b = Browser(self.gw)
        r = b.authorize("portal", CB, extra={"prompt": "none"})
        p = Browser.callback_params(r)
        self.assertEqual(p["error"], "login_required")
        self.assertEqual(p["state"], b.state)
        self.login(b)
        r = b.authorize("portal", CB, extra={"prompt": "none"})
        self.assertIn("code", Browser.callback_params(r))
        r = b.authorize("portal", CB, extra={"prompt": "none login"})
        self.assertEqual(Browser.callback_params(r)["error"],
                         "invalid_request")

    def test_select_account(self):
        b, _ = self.login()
        r = b.authorize("portal", CB, extra={"prompt": "select_account"})
        self.assertEqual(r.status_code, 200)
        self.assertIn(EMAIL, r.text)
        r2 = b.submit(r, {}, button=("action", "continue"))
        self.assertIn("code", Browser.callback_params(r2))

    def test_login_wrong_password_same_message_as_unknown_user(self):
        b = Browser(self.gw)
        r = b.authorize("portal", CB, extra={"ui_locales": "en"})
        wrong = b.login(r, EMAIL, "not the password at all")
        unknown = b.login(wrong, "nobody@example.com", "whatever password")
        self.assertEqual(wrong.status_code, 200)
        self.assertEqual(unknown.status_code, 200)
        self.assertIn("name=\"password\"", wrong.text)

        def message(t):
            return t[t.index('role="alert"'):][:200]
        self.assertEqual(message(wrong.text), message(unknown.text))
        # and a right password after that still works
        ok = b.login(unknown, EMAIL, DEMO_PASSWORD)
        self.assertIn("code", Browser.callback_params(ok))

    def test_german_and_english_pages(self):
        b = Browser(self.gw)
        de = b.authorize("portal", CB, extra={"ui_locales": "de"})
        self.assertIn('lang="de"', de.text)
        self.assertIn("Passwort", de.text)
        b2 = Browser(self.gw)
        en = b2.get(b2.gw.url + "/authorize", params={
            "client_id": "portal", "redirect_uri": CB,
            "response_type": "code", "scope": "openid",
            "code_challenge": pkce_pair()[1],
            "code_challenge_method": "S256"},
            headers={"Accept-Language": "en-GB,en;q=0.9"})
        self.assertIn('lang="en"', en.text)
        self.assertIn("Password", en.text)
        for page in (de, en):
            self.assertIn("frame-ancestors 'none'",
                          page.headers["Content-Security-Policy"])
            self.assertEqual(page.headers["X-Frame-Options"], "DENY")

    def test_refresh_rotation_and_reuse_detection(self):
        b, params = self.login()
        tok = self.exchange(b, params).json()
        rt1 = tok["refresh_token"]
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": rt1}, auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200, r.text)
        tok2 = r.json()
        rt2 = tok2["refresh_token"]
        self.assertNotEqual(rt1, rt2)
        self.assertIn("id_token", tok2)
        # the new access token works
        u = requests.get(self.gw.url + "/userinfo", headers={
            "Authorization": "Bearer " + tok2["access_token"]})
        self.assertEqual(u.status_code, 200)
        # replaying the rotated token revokes the whole grant
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": rt1}, auth=("portal", SECRET))
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json()["error"], "invalid_grant")
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": rt2}, auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "invalid_grant")
        u = requests.get(self.gw.url + "/userinfo", headers={
            "Authorization": "Bearer " + tok2["access_token"]})
        self.assertEqual(u.status_code, 401)

    def test_refresh_scope_narrowing(self):
        b, params = self.login()
        rt = self.exchange(b, params).json()["refresh_token"]
        r = self.gw.token({"grant_type": "refresh_token", "refresh_token": rt,
                           "scope": "openid"}, auth=("portal", SECRET))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["scope"], "openid")
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": r.json()["refresh_token"],
                           "scope": "openid offline_access admin"},
                          auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "invalid_scope")

    def test_code_reuse_revokes_tokens(self):
        b, params = self.login()
        first = self.exchange(b, params)
        self.assertEqual(first.status_code, 200)
        second = self.exchange(b, params)
        self.assertEqual(second.status_code, 400)
        self.assertEqual(second.json()["error"], "invalid_grant")
        at = first.json()["access_token"]
        u = requests.get(self.gw.url + "/userinfo",
                         headers={"Authorization": "Bearer " + at})
        self.assertEqual(u.status_code, 401)
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": first.json()["refresh_token"]},
                          auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "invalid_grant")

    def test_pkce_enforced(self):
        b, params = self.login()
        r = self.exchange(b, params, verifier=pkce_pair()[0])
        self.assertEqual(r.json()["error"], "invalid_grant")
        b, params = self.login()
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": params["code"], "redirect_uri": CB},
                          auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "invalid_grant")
        # no challenge at all: refused before login
        r = Browser(self.gw).authorize("portal", CB, pkce=False)
        p = Browser.callback_params(r)
        self.assertEqual(p["error"], "invalid_request")
        # plain is not accepted
        r = Browser(self.gw).authorize("portal", CB, extra={
            "code_challenge_method": "plain"})
        self.assertEqual(Browser.callback_params(r)["error"],
                         "invalid_request")

    def test_code_bound_to_client_and_redirect_uri(self):
        b, params = self.login()
        r = self.exchange(b, params, redirect_uri=CB + "x")
        self.assertEqual(r.json()["error"], "invalid_grant")
        b, params = self.login()
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": params["code"], "redirect_uri": CB,
                           "code_verifier": b.verifier,
                           "client_id": "es-portal", "client_secret": SECRET})
        self.assertEqual(r.json()["error"], "invalid_grant")

    def test_public_client_with_pkce(self):
        b = Browser(self.gw)
        params = b.login_flow("public-app", CB, EMAIL, DEMO_PASSWORD,
                              scope="openid email")
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": params["code"], "redirect_uri": CB,
                           "code_verifier": b.verifier,
                           "client_id": "public-app"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("refresh_token", r.json())

    def test_form_post_response_mode(self):
        b, _ = self.login()
        r = b.authorize("portal", CB, extra={"response_mode": "form_post"})
        self.assertEqual(r.status_code, 200)
        forms = parse_forms(r.text)
        self.assertEqual(forms[0]["action"], CB)
        self.assertEqual(forms[0]["method"], "post")
        self.assertEqual(forms[0]["fields"]["state"], b.state)
        self.assertIn("code", forms[0]["fields"])
        self.assertEqual(forms[0]["fields"]["iss"], self.gw.url)

    def test_pushed_authorization_request(self):
        verifier, challenge = pkce_pair()
        r = requests.post(self.gw.url + "/par", data={
            "response_type": "code", "client_id": "portal",
            "redirect_uri": CB, "scope": "openid email", "state": "s-par",
            "code_challenge": challenge, "code_challenge_method": "S256"},
            auth=("portal", SECRET))
        self.assertEqual(r.status_code, 201, r.text)
        uri = r.json()["request_uri"]
        self.assertTrue(uri.startswith("urn:ietf:params:oauth:request_uri:"))
        b = Browser(self.gw)
        page = b.get(self.gw.url + "/authorize", params={
            "client_id": "portal", "request_uri": uri})
        self.assertIn('name="password"', page.text)
        p = Browser.callback_params(b.login(page, EMAIL, DEMO_PASSWORD))
        self.assertEqual(p["state"], "s-par")
        b.verifier = verifier
        self.assertEqual(self.exchange(b, p).status_code, 200)
        # single use
        again = Browser(self.gw).get(self.gw.url + "/authorize", params={
            "client_id": "portal", "request_uri": uri})
        self.assertEqual(again.status_code, 400)
        self.assertNotIn("Location", again.headers)
        # validation happens at push time
        bad = requests.post(self.gw.url + "/par", data={
            "response_type": "code", "client_id": "portal",
            "redirect_uri": "https://evil.example/cb", "scope": "openid",
            "code_challenge": challenge, "code_challenge_method": "S256"},
            auth=("portal", SECRET))
        self.assertEqual(bad.status_code, 400)

    def test_logs_never_hold_secrets(self):
        b, params = self.login()
        tok = self.exchange(b, params).json()
        r = self.gw.token({"grant_type": "refresh_token",
                           "refresh_token": tok["refresh_token"]},
                          auth=("portal", SECRET))
        logs = self.gw.logs()
        self.assertIn('"msg":"request"', logs)  # there is an access log
        for secret in (DEMO_PASSWORD, SECRET, params["code"],
                       tok["access_token"], tok["refresh_token"],
                       tok["id_token"], r.json()["refresh_token"]):
            self.assertNotIn(secret, logs)
        for cookie in b.s.cookies:
            self.assertNotIn(cookie.value, logs)

    def test_expired_code(self):
        gw = Gateway(CLIENTS, people=[{"email": EMAIL}],
                     config={"tokens": {"code_ttl_s": 1}})
        try:
            b = Browser(gw)
            params = b.login_flow("portal", CB, EMAIL, DEMO_PASSWORD)
            time.sleep(2.2)
            r = gw.token({"grant_type": "authorization_code",
                          "code": params["code"], "redirect_uri": CB,
                          "code_verifier": b.verifier},
                         auth=("portal", SECRET))
            self.assertEqual(r.status_code, 400)
            self.assertEqual(r.json()["error"], "invalid_grant")
            self.assertIn("expired", r.json()["error_description"])
        finally:
            gw.close()


if __name__ == "__main__":
    unittest.main()
