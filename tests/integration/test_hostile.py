"""Hostile input: every parser and endpoint answers with the specified error,
nothing crashes, and Redis never holds anything half-written or outside the
key schema."""

import json
import re
import socket
import unittest

import requests

from harness import Browser, DEMO_PASSWORD, Gateway, pkce_pair

SECRET = "portal-secret-0123456789-0123456789-xyz"
CB = "https://portal.example/cb"
EMAIL = "carla@example.com"

CLIENTS = [
    {"client_id": "portal", "client_secret": SECRET,
     "redirect_uris": [CB], "skip_consent": True,
     "grant_types": ["authorization_code", "refresh_token"]},
]

NASTY = ["%n%s%s%s%n", "a\r\nSET injected 1\r\n", "*1\r\n$4\r\nPING\r\n",
         "{hashtag}", "\u00e4\u00f6\u00fc\u00df", "x" * 4000, "';--",
         "<script>alert(1)</script>", "../../etc/passwd"]

KEY_SCHEMA = re.compile(
    r"^kt:(person|email|session|areq|par|client|code|grant|atrev|once:jti|"
    r"thr:acct|thr:ip|consent):\{[^{}]+\}(:old|:[A-Za-z0-9_-]+)?$")


def raw_request(port, data, timeout=5):
    """Send raw bytes, return the raw response (or b'' if closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            pass
        return b"".join(chunks)


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    return int(m.group(1)) if m else None


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(CLIENTS, people=[{"email": EMAIL}],
                         config={"throttle": {"account_max_failures": 3}})

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    def tearDown(self):
        self.assertIsNone(self.gw.proc.poll(), "gateway died")
        self.assertEqual(requests.get(self.gw.url + "/healthz").status_code,
                         200)

    def authz(self, **over):
        _, challenge = pkce_pair()
        p = {"client_id": "portal", "redirect_uri": CB,
             "response_type": "code", "scope": "openid",
             "code_challenge": challenge, "code_challenge_method": "S256"}
        p.update(over)
        return requests.get(self.gw.url + "/authorize",
                            params={k: v for k, v in p.items()
                                    if v is not None},
                            allow_redirects=False)

    def test_unregistered_redirect_uri_never_redirects(self):
        for uri in (CB + "/", CB + "?x=1", CB.upper(), "https://evil.example/cb",
                    "https://portal.example/cb/../evil", "https:/\\evil.example",
                    "https://portal.example%2f%5c@evil.example/cb",
                    "https://portal.example@evil.example/cb",
                    "javascript:alert(1)", "//evil.example", ""):
            r = self.authz(redirect_uri=uri)
            self.assertEqual(r.status_code, 400, uri)
            self.assertNotIn("Location", r.headers, uri)
            self.assertIn("text/html", r.headers["Content-Type"])
        r = self.authz(redirect_uri=None)
        self.assertEqual(r.status_code, 400)
        self.assertNotIn("Location", r.headers)
        r = self.authz(client_id="nobody")
        self.assertEqual(r.status_code, 400)
        self.assertNotIn("Location", r.headers)
        # even an error that would go to the client stays home when the
        # redirect_uri is bad
        r = self.authz(redirect_uri="https://evil.example/", response_type="x")
        self.assertNotIn("Location", r.headers)

    def test_reflected_text_is_escaped(self):
        r = self.authz(client_id="<script>alert(1)</script>")
        self.assertNotIn("<script>alert(1)", r.text)
        r = self.authz(state="<script>x</script>", prompt="bogus")
        loc = r.headers["Location"]
        self.assertNotIn("<script>", loc)

    def test_duplicate_parameters(self):
        r = requests.get(self.gw.url + "/authorize?client_id=portal&"
                         "client_id=portal&redirect_uri=" + CB,
                         allow_redirects=False)
        self.assertEqual(r.status_code, 400)
        self.assertNotIn("Location", r.headers)
        r = requests.post(self.gw.url + "/token",
                          data="grant_type=client_credentials&"
                               "grant_type=authorization_code",
                          headers={"Content-Type":
                                   "application/x-www-form-urlencoded"},
                          auth=("portal", SECRET))
        self.assertEqual(r.json()["error"], "invalid_request")

    def test_malformed_encoding(self):
        for q in ("client_id=%zz", "client_id=%00", "client_id=%ff%fe",
                  "=x", "client_id=a%"):
            r = requests.get(self.gw.url + "/authorize?" + q)
            self.assertEqual(r.status_code, 400, q)
        r = requests.post(self.gw.url + "/token", data=b"grant_type=%G1",
                          headers={"Content-Type":
                                   "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json()["error"], "invalid_request")

    def test_missing_or_wrong_content_type(self):
        r = requests.post(self.gw.url + "/token",
                          data=b"grant_type=client_credentials",
                          headers={"Content-Type": ""})
        self.assertEqual(r.status_code, 415)
        r = requests.post(self.gw.url + "/token", json={"grant_type": "x"})
        self.assertEqual(r.status_code, 415)
        resp = raw_request(self.gw.port,
                           b"POST /token HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 5\r\nConnection: close\r\n\r\n"
                           b"a=b&c")
        self.assertEqual(status_of(resp), 415)

    def test_oversized_requests(self):
        # header block
        resp = raw_request(self.gw.port,
                           b"GET /jwks HTTP/1.1\r\nHost: x\r\nX-Big: " +
                           b"a" * 20000 + b"\r\nConnection: close\r\n\r\n")
        self.assertIn(status_of(resp), (400, 413, 431, None))
        # body
        r = requests.post(self.gw.url + "/token", data="a=" + "b" * 70000,
                          headers={"Content-Type":
                                   "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 413)
        # query string beyond the parameter limits
        r = requests.get(self.gw.url + "/authorize?client_id=" +
                         "c" * 9000)
        self.assertEqual(r.status_code, 400)
        r = requests.get(self.gw.url + "/authorize?" +
                         "&".join("p%d=1" % i for i in range(200)))
        self.assertEqual(r.status_code, 400)
        # thousands of cookies
        r = requests.get(self.gw.url + "/authorize", params={
            "client_id": "portal"}, headers={
            "Cookie": "; ".join("c%d=v" % i for i in range(700))})
        self.assertIn(r.status_code, (400, 431))
        # deeply nested JSON at registration
        r = requests.post(self.gw.url + "/register", data="[" * 20000,
                          headers={"Content-Type": "application/json",
                                   "Authorization":
                                   "Bearer test-registration-token"})
        self.assertEqual(r.status_code, 400)

    def test_methods_and_paths(self):
        self.assertEqual(requests.put(self.gw.url + "/token").status_code, 405)
        self.assertEqual(requests.delete(self.gw.url + "/jwks").status_code,
                         405)
        r = requests.get(self.gw.url + "/token")
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers["Allow"], "POST")
        self.assertEqual(requests.get(self.gw.url + "/nope").status_code, 404)
        self.assertEqual(requests.get(self.gw.url + "/../etc/passwd")
                         .status_code, 404)

    def test_bad_authorization_headers(self):
        # beyond limits.max_header_size: libevent's own 400
        r = requests.post(self.gw.url + "/token",
                          data={"grant_type": "client_credentials"},
                          headers={"Authorization": "Basic " + "A" * 9000})
        self.assertIn(r.status_code, (400, 431))
        for h in ("Basic !!!notbase64", "Basic " + "A" * 5000, "Bearer",
                  "Bearer a b", "Digest x", "Basic Og==", "\x01\x02"):
            r = requests.post(self.gw.url + "/token",
                              data={"grant_type": "client_credentials"},
                              headers={"Authorization": h})
            self.assertIn(r.status_code, (400, 401), h)
            self.assertEqual(r.json()["error"], "invalid_client", h)
            u = requests.get(self.gw.url + "/userinfo",
                             headers={"Authorization": h})
            self.assertIn(u.status_code, (400, 401), h)

    def test_alg_none_tokens(self):
        import base64

        def b64(d):
            return base64.urlsafe_b64encode(json.dumps(d).encode()) \
                .rstrip(b"=").decode()
        none = b64({"alg": "none", "typ": "at+jwt"}) + "." + b64(
            {"iss": self.gw.url, "sub": "x", "client_id": "portal",
             "jti": "j", "scope": "openid", "exp": 9999999999}) + "."
        u = requests.get(self.gw.url + "/userinfo",
                         headers={"Authorization": "Bearer " + none})
        self.assertEqual(u.status_code, 401)
        r = requests.get(self.gw.url + "/logout",
                         params={"id_token_hint": none})
        self.assertEqual(r.status_code, 400)

    def test_format_strings_and_crlf_everywhere(self):
        for v in NASTY:
            self.authz(state=v, nonce=v[:500], login_hint=v[:250],
                       ui_locales=v[:100], acr_values=v[:100])
            self.authz(client_id=v)
            requests.post(self.gw.url + "/token", data={
                "grant_type": "authorization_code", "code": v,
                "redirect_uri": v, "code_verifier": v},
                auth=("portal", SECRET))
            requests.post(self.gw.url + "/token", data={
                "grant_type": "refresh_token", "refresh_token": v + "." + v},
                auth=("portal", SECRET))
            requests.post(self.gw.url + "/token", data={
                "grant_type": "client_credentials", "client_id": v,
                "client_secret": v})
            requests.post(self.gw.url + "/introspect", data={"token": v},
                          auth=("portal", SECRET))
            requests.post(self.gw.url + "/revoke", data={"token": v},
                          auth=("portal", SECRET))
            requests.get(self.gw.url + "/authorize", params={
                "client_id": "portal",
                "request_uri": "urn:ietf:params:oauth:request_uri:" + v})
            requests.post(self.gw.url + "/register", json={
                "redirect_uris": [CB], "client_name": v},
                headers={"Authorization": "Bearer test-registration-token"})
            requests.get(self.gw.url + "/logout",
                         params={"id_token_hint": v, "state": v})
        # the login form with hostile email and password
        b = Browser(self.gw)
        page = b.authorize("portal", CB)
        for v in NASTY:
            page = b.login(page, v if "@" in v else v + "@x", v)
            self.assertIn(page.status_code, (200, 400, 429))
        # a forged page post without a real areq
        r = requests.post(self.gw.url + "/login", data={
            "areq": "{x}", "csrf": "%n", "email": EMAIL,
            "password": DEMO_PASSWORD})
        self.assertEqual(r.status_code, 400)
        self.check_redis_schema()

    def check_redis_schema(self):
        redis = self.gw.redis
        for key in redis.keys("*"):
            self.assertRegex(key, KEY_SCHEMA)
            t = redis.cmd("TYPE", key)
            if key.startswith(("kt:areq", "kt:par", "kt:client")):
                self.assertEqual(t, "string")
                json.loads(redis.cmd("GET", key))
            elif key.startswith(("kt:person", "kt:grant:", "kt:session",
                                 "kt:code")) and not key.endswith(":old"):
                self.assertEqual(t, "hash")
            # everything but people, their index and clients expires
            if not key.startswith(("kt:person", "kt:email", "kt:client",
                                   "kt:consent")):
                self.assertGreater(redis.cmd("TTL", key), 0, key)

    def test_login_csrf_needs_the_browser(self):
        b = Browser(self.gw)
        page = b.authorize("portal", CB)
        from harness import parse_forms
        fields = parse_forms(page.text)[0]["fields"]
        # same form values from another browser (no binding cookie)
        r = requests.post(self.gw.url + "/login", data=dict(
            fields, email=EMAIL, password=DEMO_PASSWORD, action="login"),
            allow_redirects=False)
        self.assertEqual(r.status_code, 403)
        # the right browser with a wrong csrf token
        r = b.post(self.gw.url + "/login", data=dict(
            fields, csrf="x" * 32, email=EMAIL, password=DEMO_PASSWORD))
        self.assertEqual(r.status_code, 403)
        # and the genuine post works
        ok = b.login(page, EMAIL, DEMO_PASSWORD)
        self.assertIn("code", Browser.callback_params(ok))

    def test_throttling_per_account(self):
        b = Browser(self.gw)
        gw = self.gw
        gw.add_person("dora@example.com")
        page = b.authorize("portal", CB)
        for _ in range(3):
            page = b.login(page, "dora@example.com", "wrong password here")
            self.assertEqual(page.status_code, 200)
        page = b.login(page, "dora@example.com", DEMO_PASSWORD)
        self.assertEqual(page.status_code, 429)
        self.assertIn("Retry-After", page.headers)
        # the lock is per account: another person still logs in
        ok = b.login(page, EMAIL, DEMO_PASSWORD)
        self.assertIn("code", Browser.callback_params(ok))


if __name__ == "__main__":
    unittest.main()
