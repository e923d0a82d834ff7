"""Federation: a second kontor-idp plays a state's legacy provider (SH), a
scripted fake plays a broken one (XX modes: down, slow, bad signature,
wrong nonce, HMAC with a secret from its JWKS, alg against the key type). Covers new accounts from claims, automatic links from a
migration mapping, proof-of-control links, the review queue, clear errors
without any link, legacy password hashes with upgrade on login, back-channel
logout to a portal and logout through the state provider."""

import base64
import glob
import crypt
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import unittest
import urllib.parse
import warnings

import requests
from authlib.jose import JsonWebKey, jwt

from harness import (Browser, DEMO_PASSWORD, Gateway, free_port, jwt_parts,
                     parse_forms)

warnings.simplefilter("ignore", DeprecationWarning)

SECRET = "portal-secret-0123456789-0123456789-xyz"
UP_SECRET = "upstream-secret-0123456789-0123456789"
CB = "http://127.0.0.1:9/cb"
BYE = "http://127.0.0.1:9/bye"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Back-channel logout endpoint of a test portal."""
    posts = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Recorder.posts.append(self.rfile.read(n).decode())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class FakeUpstream(http.server.BaseHTTPRequestHandler):
    """A state provider that misbehaves on purpose."""
    mode = "ok"
    issuer = None
    key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
    other = JsonWebKey.generate_key("EC", "P-256", is_private=True)
    key2 = JsonWebKey.generate_key("EC", "P-256", is_private=True)
    rotated = False  # key2 ("k2") published in the JWKS
    rp_key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
    # A symmetric key in a public JWKS, under the kid of the real one: a
    # verifier that takes the token's alg and the kid's key would accept
    # HS256 tokens MACed with a secret anyone can read.
    oct_key = JsonWebKey.import_key(
        {"kty": "oct", "kid": "k1", "k": base64.urlsafe_b64encode(
            secrets.token_bytes(32)).decode().rstrip("=")})
    assertions = []
    nonces = {}
    last_id_token = None

    def client_ok(self, form):
        """Client authentication as a real provider checks it."""
        iss = FakeUpstream.issuer
        if "client_assertion" in form:
            try:
                c = jwt.decode(form["client_assertion"],
                               FakeUpstream.rp_key.as_dict(is_private=False))
                c.validate()
            except Exception:
                return False
            FakeUpstream.assertions.append(c)
            return (form.get("client_assertion_type") ==
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    and c["iss"] == c["sub"] == "kontor-by"
                    and c["aud"] == iss + "/token" and "jti" in c)
        # RFC 6749 §2.3.1: Basic over the form-encoded id and secret
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
        return (urllib.parse.unquote_plus(cid) == "kontor" and
                urllib.parse.unquote_plus(sec) == UP_SECRET)

    def reply(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if FakeUpstream.mode == "slow":
            time.sleep(3)
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/.well-known/openid-configuration":
            iss = FakeUpstream.issuer
            self.reply({"issuer": iss, "authorization_endpoint":
                        iss + "/authorize", "token_endpoint": iss + "/token",
                        "jwks_uri": iss + "/jwks"})
        elif u.path == "/jwks":
            # always listed, and first: ES256 tokens must skip it too
            keys = [FakeUpstream.oct_key.as_dict(is_private=True),
                    dict(FakeUpstream.key.as_dict(is_private=False),
                         kid="k1", use="sig", alg="ES256")]
            if FakeUpstream.rotated:
                keys.append(dict(FakeUpstream.key2.as_dict(is_private=False),
                                 kid="k2", use="sig", alg="ES256"))
            self.reply({"keys": keys})
        else:
            self.reply({}, 404)

    def do_POST(self):
        if FakeUpstream.mode == "slow":
            time.sleep(3)
        n = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        if not self.client_ok(form):
            self.reply({"error": "invalid_client"}, 401)
            return
        aud = "kontor-by" if "client_assertion" in form else "kontor"
        nonce = FakeUpstream.nonces.get(form.get("code"), "?")
        if FakeUpstream.mode == "wrong_nonce":
            nonce = "not-the-nonce"
        now = int(time.time())
        claims = {"iss": FakeUpstream.issuer, "sub": "fake-1",
                  "aud": aud, "iat": now, "exp": now + 300,
                  "nonce": nonce, "email": "fake@example.com"}
        if FakeUpstream.mode == "clock_ahead":
            # the provider's clock runs 30 s behind ours, its token
            # lives 20 s: expired by our clock, within the leeway
            claims.update(iat=now - 50, exp=now - 30)
        elif FakeUpstream.mode == "expired":
            claims.update(iat=now - 900, exp=now - 600)
        key, kid = FakeUpstream.key, "k1"
        if FakeUpstream.mode == "bad_signature":
            key = FakeUpstream.other
        elif FakeUpstream.mode == "rotate":
            key, kid = FakeUpstream.key2, "k2"
        elif FakeUpstream.mode == "unknown_kid":
            key, kid = FakeUpstream.other, "k3"
        if FakeUpstream.mode == "hs256_oct":
            idt = jwt.encode({"alg": "HS256", "kid": "k1"}, claims,
                             FakeUpstream.oct_key).decode()
        elif FakeUpstream.mode == "alg_mismatch":
            # RS256 named, but k1 is an EC key (no RSA key is published)
            h = base64.urlsafe_b64encode(json.dumps(
                {"alg": "RS256", "kid": "k1"}).encode()).rstrip(b"=")
            p = base64.urlsafe_b64encode(
                json.dumps(claims).encode()).rstrip(b"=")
            sig = base64.urlsafe_b64encode(
                secrets.token_bytes(256)).rstrip(b"=")
            idt = b".".join([h, p, sig]).decode()
        else:
            idt = jwt.encode({"alg": "ES256", "kid": kid}, claims,
                             key).decode()
        FakeUpstream.last_id_token = idt
        self.reply({"access_token": "x", "token_type": "Bearer",
                    "id_token": idt})

    def log_message(self, *a):
        pass


def serve(handler):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Federation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.recorder = serve(Recorder)
        cls.fake = serve(FakeUpstream)
        FakeUpstream.issuer = "http://127.0.0.1:%d" % cls.fake.server_port
        down_port = free_port()
        cls.down_url = "http://127.0.0.1:%d" % down_port
        # the legacy provider of Schleswig-Holstein: another kontor-idp
        cls.up = Gateway([{
            "client_id": "kontor", "client_secret": UP_SECRET,
            "redirect_uris": [cls.down_url + "/federate/callback"],
            "post_logout_redirect_uris":
                [cls.down_url + "/federate/logged-out"],
            "scope": "openid profile email company company_identifiers",
            "subject_type": "public", "skip_consent": True,
            "grant_types": ["authorization_code"]}])
        dead_port = free_port()
        cls.keydir = tempfile.mkdtemp(prefix="kontor-fed-")
        rp_pem = os.path.join(cls.keydir, "by.pem")
        with open(rp_pem, "wb") as fp:
            fp.write(FakeUpstream.rp_key.as_pem(is_private=True))
        cls.gw = Gateway([
            {"client_id": "portal", "client_secret": SECRET,
             "redirect_uris": [CB], "post_logout_redirect_uris": [BYE],
             "scope": "openid profile email company", "skip_consent": True,
             "backchannel_logout_uri": "http://127.0.0.1:%d/bcl" %
             cls.recorder.server_port,
             "grant_types": ["authorization_code"]}],
            port=down_port,
            config={"federation": {
                "match_profile": os.path.join(
                    os.environ.get("KONTOR_SOURCE_DIR", "../.."),
                    "docs/profiles/company.json"),
                "timeout_ms": 1500,
                "upstreams": [
                    {"land": "SH", "name": "Unternehmenskonto SH",
                     "issuer": cls.up.url, "client_id": "kontor",
                     "client_secret": UP_SECRET,
                     "scope": "openid profile email company "
                              "company_identifiers",
                     "claims": {"legal_name": "org_name",
                                "legal_form": "org_legal_form",
                                "vat": "org_vat_id"}},
                    {"land": "HH", "name": "Unternehmenskonto HH",
                     "issuer": "http://127.0.0.1:%d" % dead_port,
                     "client_id": "kontor", "client_secret": UP_SECRET},
                    {"land": "BE", "name": "Unternehmenskonto BE",
                     "issuer": FakeUpstream.issuer, "client_id": "kontor",
                     "client_secret": UP_SECRET},
                    {"land": "BY", "name": "Unternehmenskonto BY",
                     "issuer": FakeUpstream.issuer, "client_id": "kontor-by",
                     "private_key_file": rp_pem}]},
                "mail": {"outbox_dir": "{tmp}/outbox"}})

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.up.close()
        cls.recorder.shutdown()
        cls.fake.shutdown()
        shutil.rmtree(cls.keydir, ignore_errors=True)

    # helpers --------------------------------------------------------------
    def upstream_person(self, email, company, vat=None):
        self.up.add_person(email, name=email.split("@")[0].title())
        args = ["org", "create", "--legal-name", company]
        if vat:
            args += ["--vat", vat]
        org = self.up.admin(*args)["org"]["id"]
        self.up.admin("member", "add", org, email, "--role", "admin")
        return self.up.admin("person", "show", email)["person"]["id"]

    def start(self, land, b=None):
        """Portal authorization → login page → the state's button."""
        b = b or Browser(self.gw)
        page = b.authorize("portal", CB, "openid email company")
        self.assertIn('name="land"', page.text)
        form = [f for f in parse_forms(page.text)
                if f["action"] == "/federate"][0]
        r = b.post(self.gw.url + "/federate",
                   data=dict(form["fields"], land=land))
        return b, r

    def via_upstream(self, email, b=None):
        """The whole round through the SH provider; returns the answer of
        our callback."""
        b, r = self.start("SH", b)
        self.assertEqual(r.status_code, 303, r.text[:300])
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.up.url + "/authorize"))
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["code_challenge_method"], "S256")
        page = b.get(loc)
        if 'name="password"' in page.text:
            page = b.login(page, email, DEMO_PASSWORD)
        cb = page.headers["Location"]
        self.assertTrue(cb.startswith(self.gw.url + "/federate/callback"),
                        cb)
        return b, b.get(cb), cb

    def tokens(self, b, r):
        p = Browser.callback_params(r)
        t = self.gw.token({"grant_type": "authorization_code",
                           "code": p["code"], "redirect_uri": CB,
                           "code_verifier": b.verifier},
                          auth=("portal", SECRET))
        self.assertEqual(t.status_code, 200, t.text)
        return t.json()

    def follow(self, b, r):
        """Follow redirects on our own host until we leave it."""
        while r.status_code in (302, 303) and \
                r.headers["Location"].startswith(("/", self.gw.url)):
            loc = r.headers["Location"]
            r = b.get(loc if loc.startswith("http") else self.gw.url + loc)
        return r

    def redis_keys(self, pattern):
        return self.gw.redis.keys(pattern)

    # tests --------------------------------------------------------------------
    def test_login_page_offers_the_states(self):
        b = Browser(self.gw)
        page = b.authorize("portal", CB, "openid", {"ui_locales": "de"})
        self.assertIn("Unternehmenskonto SH", page.text)
        self.assertIn("bisherigen Konto", page.text)

    def test_new_account_from_claims(self):
        sub = self.upstream_person("neu@example.com", "Neu Technik GmbH",
                                   "DE811128135")
        b, r, _ = self.via_upstream("neu@example.com")
        r = self.follow(b, r)
        tok = self.tokens(b, r)
        _, idt = jwt_parts(tok["id_token"])
        self.assertEqual(idt["acr"], "urn:kontor:acr:legacy")
        self.assertEqual(idt["org_name"], "Neu Technik GmbH")
        self.assertEqual(idt["email"], "neu@example.com")
        person = self.gw.admin("person", "show", "neu@example.com")["person"]
        self.assertEqual(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub), person["id"])
        org = self.gw.admin("org", "find", "--vat", "DE811128135")["org"]
        self.assertEqual(org["legal_name"], "Neu Technik GmbH")
        # the second time it is a known link: no new account
        b2, r2, _ = self.via_upstream("neu@example.com")
        self.follow(b2, r2)
        self.assertEqual(len(self.gw.admin("person", "show",
                                           "neu@example.com")), 1)

    def test_automatic_link_from_migration_mapping(self):
        sub = self.upstream_person("mapped@example.com", "Gemappt KG")
        # what kontor-migrate wrote for this legacy account
        self.gw.add_person("altkonto@example.com", name="Alt Konto")
        pid = self.gw.admin("person", "show",
                            "altkonto@example.com")["person"]["id"]
        self.gw.redis.cmd("SET", "kt:personidx:source:{SH:%s}" % sub, pid)
        b, r, _ = self.via_upstream("mapped@example.com")
        tok = self.tokens(b, self.follow(b, r))
        _, idt = jwt_parts(tok["id_token"])
        self.assertEqual(idt["email"], "altkonto@example.com")

    def test_proof_of_control_link(self):
        sub = self.upstream_person("beweis@example.com", "Beweis AG",
                                   "DE136695976")
        org = self.gw.admin("org", "create", "--legal-name", "Beweis AG",
                            "--vat", "DE136695976")["org"]["id"]
        self.gw.add_person("inhaber@example.com", name="Inhaber")
        self.gw.admin("member", "add", org, "inhaber@example.com",
                      "--role", "admin")
        b, r, _ = self.via_upstream("beweis@example.com")
        # one strong candidate: prove control by signing in
        self.assertEqual(r.status_code, 200, r.text[:300])
        self.assertIn('role="status"', r.text)
        self.assertIsNone(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub))
        r = b.login(r, "inhaber@example.com", DEMO_PASSWORD)
        tok = self.tokens(b, self.follow(b, r))
        self.assertEqual(jwt_parts(tok["id_token"])[1]["org_name"],
                         "Beweis AG")
        pid = self.gw.admin("person", "show",
                            "inhaber@example.com")["person"]["id"]
        self.assertEqual(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub), pid)

    def mailed_codes(self, to):
        """The one-time codes in the outbox for an address."""
        codes = []
        for f in glob.glob(os.path.join(self.gw.tmp, "outbox", "*.eml")):
            with open(f, encoding="utf-8") as fp:
                text = fp.read()
            if re.search(r"^To: .*%s" % re.escape(to), text, re.M):
                # one code per mail, written in German and in English
                codes += sorted(set(re.findall(r"^  (\d{8})$", text,
                                               re.M)))
        return codes

    def test_proof_of_control_by_emailed_code(self):
        sub = self.upstream_person("perpost@example.com", "Perpost GmbH",
                                   "DE123456788")
        org = self.gw.admin("org", "create", "--legal-name", "Perpost GmbH",
                            "--vat", "DE123456788")["org"]["id"]
        self.gw.add_person("chefin@example.com", name="Chefin")
        self.gw.admin("member", "add", org, "chefin@example.com",
                      "--role", "admin")
        b, login, _ = self.via_upstream("perpost@example.com")
        self.assertEqual(login.status_code, 200, login.text[:300])
        self.assertIn('value="mailcode"', login.text)
        # an address without an account: the same answer, and no mail
        r = b.submit(login, {"email": "niemand@example.com"},
                     button=("action", "mailcode"))
        self.assertEqual(r.status_code, 200, r.text[:300])
        self.assertIn('name="code"', r.text)
        self.assertEqual(self.mailed_codes("niemand@example.com"), [])
        # the account's address (typed in capitals): one mail, one code
        page = b.submit(login, {"email": "Chefin@Example.com"},
                        button=("action", "mailcode"))
        self.assertEqual(page.text, r.text.replace(
            "niemand@example.com", "chefin@example.com"))
        codes = self.mailed_codes("chefin@example.com")
        self.assertEqual(len(codes), 1)
        code = codes[0]
        self.assertNotIn(code, self.gw.logs())
        # a wrong code: refused, nothing linked
        wrong = "%08d" % ((int(code) + 1) % 10 ** 8)
        r = b.submit(page, {"code": wrong},
                     button=("action", "mailcode_verify"))
        self.assertIn('role="alert"', r.text)
        self.assertIsNone(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub))
        # the right one: linked, and the login goes on to the portal at
        # the legacy level (the inbox proved, not the password)
        r = b.submit(r, {"code": code}, button=("action", "mailcode_verify"))
        tok = self.tokens(b, self.follow(b, r))
        idt = jwt_parts(tok["id_token"])[1]
        self.assertEqual(idt["org_name"], "Perpost GmbH")
        self.assertEqual(idt["acr"], "urn:kontor:acr:legacy")
        pid = self.gw.admin("person", "show",
                            "chefin@example.com")["person"]["id"]
        self.assertEqual(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub), pid)
        # next time the state login lands on the account directly
        b2, r2, _ = self.via_upstream("perpost@example.com")
        self.assertIn(r2.status_code, (302, 303), r2.text[:300])

    def test_emailed_code_tries_and_strangers(self):
        sub = self.upstream_person("versuch@example.com", "Versuch AG",
                                   "DE876543219")
        self.gw.admin("org", "create", "--legal-name", "Versuch AG",
                      "--vat", "DE876543219")
        self.gw.add_person("aussen@example.com")  # not a member
        b, login, _ = self.via_upstream("versuch@example.com")
        page = b.submit(login, {"email": "aussen@example.com"},
                        button=("action", "mailcode"))
        code = self.mailed_codes("aussen@example.com")[0]
        # five wrong tries use the code up: then even the right one fails
        r = page
        for i in range(5):
            r = b.submit(page, {"code": "%08d" % i if "%08d" % i != code
                                else "99999999"},
                         button=("action", "mailcode_verify"))
            self.assertIn('role="alert"', r.text)
        r = b.submit(page, {"code": code},
                     button=("action", "mailcode_verify"))
        self.assertIn('name="password"', r.text)  # back to the login page
        self.assertIn('role="alert"', r.text)
        # a fresh code for someone who does not act for the company:
        # right, but refused, nothing linked, no session
        b.submit(login, {"email": "aussen@example.com"},
                 button=("action", "mailcode"))
        code2 = [c for c in self.mailed_codes("aussen@example.com")
                 if c != code][0]
        r = b.submit(page, {"code": code2},
                     button=("action", "mailcode_verify"))
        self.assertEqual(r.status_code, 403, r.text[:300])
        self.assertIsNone(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub))
        # the code page is not reachable without a pending link
        b3 = Browser(self.gw)
        p3 = b3.authorize("portal", CB, "openid email company")
        r = b3.submit(p3, {"email": "aussen@example.com"},
                      button=("action", "mailcode"))
        self.assertEqual(r.status_code, 400)

    def test_proof_of_control_by_a_stranger_links_nothing(self):
        sub = self.upstream_person("fremd@example.com", "Fremd GmbH",
                                   "DE129273398")
        self.gw.admin("org", "create", "--legal-name", "Fremd GmbH",
                      "--vat", "DE129273398")
        self.gw.add_person("anderer@example.com")
        b, r, _ = self.via_upstream("fremd@example.com")
        r = b.login(r, "anderer@example.com", DEMO_PASSWORD)
        self.follow(b, r)
        self.assertIsNone(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub))

    def test_taken_email_needs_proof_not_review(self):
        self.upstream_person("unsicher@example.com", "Unsicher Handel GmbH")
        self.gw.admin("org", "create", "--legal-name",
                      "Unsicher Handel GmbH")
        self.gw.add_person("unsicher@example.com")  # same address, no proof
        before = self.gw.redis.cmd("XLEN", "kt:review:federation")
        b, r, _ = self.via_upstream("unsicher@example.com")
        # the address is taken: proof of control, never a link by email
        self.assertIn('role="status"', r.text)
        self.assertEqual(self.gw.redis.cmd("XLEN", "kt:review:federation"),
                         before)

    def test_uncertain_candidate_goes_to_review(self):
        # same VAT number, but nothing else agrees: not a safe link
        sub = self.upstream_person("zweifel@example.com",
                                   "Zweifel Logistik AG", "DE287296101")
        self.gw.admin("org", "create", "--legal-name",
                      "Prüfbar Metallbau GmbH", "--vat", "DE287296101")
        before = self.gw.redis.cmd("XLEN", "kt:review:federation")
        b, r, _ = self.via_upstream("zweifel@example.com")
        tok = self.tokens(b, self.follow(b, r))
        self.assertEqual(self.gw.redis.cmd("XLEN", "kt:review:federation"),
                         before + 1)
        entry = self.gw.redis.cmd("XREVRANGE", "kt:review:federation",
                                  "+", "-", "COUNT", "1")[0][1]
        fields = dict(zip(entry[::2], entry[1::2]))
        self.assertEqual(fields["source"], "SH:" + sub)
        self.assertIn("Zweifel Logistik", fields["fields"])
        # a provisional account, linked, without the contested company
        person = self.gw.admin("person", "show",
                               "zweifel@example.com")["person"]
        self.assertEqual(person.get("provisional"), "1", person)
        self.assertEqual(self.gw.redis.cmd(
            "GET", "kt:personidx:source:{SH:%s}" % sub), person["id"])
        self.assertNotIn("org_name", jwt_parts(tok["id_token"])[1])

    def test_upstream_down(self):
        b, r = self.start("HH")
        self.assertEqual(r.status_code, 502)
        self.assertIn("Unternehmenskonto HH", r.text)
        # every other login keeps working
        self.gw.add_person("weiter@example.com")
        p = Browser(self.gw).login_flow("portal", CB, "weiter@example.com",
                                        DEMO_PASSWORD, "openid")
        self.assertIn("code", p)
        self.assertEqual(requests.get(self.gw.url + "/healthz").status_code,
                         200)

    def test_upstream_slow(self):
        # the start may use a cached discovery document; the token request
        # of the callback always goes to the provider
        _, _, url = self.fake_round("ok", fetch=False)
        FakeUpstream.mode = "slow"
        try:
            t0 = time.time()
            result = {}

            def other():
                time.sleep(0.3)
                result["jwks"] = requests.get(self.gw.url + "/jwks",
                                              timeout=1).status_code
            th = threading.Thread(target=other)
            th.start()
            r = self.last_browser.get(url)
            th.join()
            self.assertIn(r.status_code, (502, 504))
            self.assertIn("Unternehmenskonto BE", r.text)
            self.assertLess(time.time() - t0, 2.9)
            self.assertEqual(result["jwks"], 200)
        finally:
            FakeUpstream.mode = "ok"

    def fake_round(self, mode, fetch=True, land="BE"):
        FakeUpstream.mode = mode
        try:
            b, r = self.start(land)
            self.last_browser = b
            self.assertEqual(r.status_code, 303, r.text[:300])
            q = dict(urllib.parse.parse_qsl(
                urllib.parse.urlsplit(r.headers["Location"]).query))
            code = secrets.token_urlsafe(8)
            FakeUpstream.nonces[code] = q["nonce"]
            url = self.gw.url + "/federate/callback?" + urllib.parse.urlencode(
                {"code": code, "state": q["state"]})
            return b, b.get(url) if fetch else None, url
        finally:
            FakeUpstream.mode = "ok"

    def test_bad_signature_links_nothing(self):
        before = len(self.redis_keys("kt:personidx:source:{BE:*"))
        b, r, _ = self.fake_round("bad_signature")
        self.assertEqual(r.status_code, 502)
        self.assertEqual(len(self.redis_keys("kt:personidx:source:{BE:*")),
                         before)

    def test_wrong_nonce_links_nothing(self):
        before = len(self.redis_keys("kt:personidx:source:{BE:*"))
        b, r, _ = self.fake_round("wrong_nonce")
        self.assertEqual(r.status_code, 502)
        self.assertEqual(len(self.redis_keys("kt:personidx:source:{BE:*")),
                         before)

    def refused(self, mode, reason):
        """A round in mode ends with the error page; nothing linked; the
        log says why and never holds the token."""
        before = len(self.redis_keys("kt:personidx:source:{BE:*"))
        mark = len(self.gw.logs())
        b, r, _ = self.fake_round(mode)
        self.assertEqual(r.status_code, 502)
        self.assertIn("Unternehmenskonto BE", r.text)
        self.assertEqual(len(self.redis_keys("kt:personidx:source:{BE:*")),
                         before)
        logs = self.gw.logs()[mark:]
        self.assertIn(reason, logs)
        self.assertNotIn(FakeUpstream.last_id_token, logs)
        self.assertNotIn(FakeUpstream.last_id_token.split(".")[2], logs)

    def test_hs256_with_an_oct_key_from_the_jwks_is_refused(self):
        self.refused("hs256_oct", "alg 'HS256' is not allowed: symmetric "
                     "algorithms are never accepted")

    def test_wrong_key_type_for_the_alg_is_refused(self):
        # Named to run after test_upstream_key_rotation (unittest sorts by
        # name): a kid without a usable key refetches the JWKS like an
        # unknown one, and a forced refetch happens at most every 30 s.
        self.refused("alg_mismatch", "which cannot verify alg 'RS256'")

    def test_expiry_with_leeway(self):
        # 30 s past exp: accepted (120 s of leeway, liboauth2 has none)
        b, r, _ = self.fake_round("clock_ahead")
        self.assertIn(r.status_code, (200, 303), r.text[:300])
        # 10 minutes past exp: refused, nothing linked
        self.refused("expired", "token expired")

    def test_bad_signature_is_refused_by_liboauth2(self):
        self.refused("bad_signature", "liboauth2's token verifier refused")

    def test_upstream_key_rotation(self):
        self.fake_round("ok")  # the JWKS with k1 only is cached now
        # the provider rotated to k2: the unknown kid makes us refetch once
        FakeUpstream.rotated = True
        try:
            b, r, _ = self.fake_round("rotate")
            # accepted: a login (303) or, if an earlier test gave the
            # address an account, the proof-of-control page (200)
            self.assertIn(r.status_code, (200, 303), r.text[:300])
            # a kid nobody publishes: refused (and no refetch storm: a
            # forced refresh happens at most every 30 s per URL)
            b, r, _ = self.fake_round("unknown_kid")
            self.assertEqual(r.status_code, 502)
        finally:
            FakeUpstream.rotated = False

    def test_private_key_jwt_toward_the_provider(self):
        del FakeUpstream.assertions[:]
        b, r, _ = self.fake_round("ok", land="BY")
        self.assertIn(r.status_code, (200, 303), r.text[:300])
        self.assertEqual(len(FakeUpstream.assertions), 1)
        a = FakeUpstream.assertions[0]
        self.assertLessEqual(a["exp"] - a["iat"], 300)

    def test_replayed_state(self):
        b, r, url = self.fake_round("ok")
        self.assertNotEqual(r.status_code, 400)
        again = b.get(url)
        self.assertEqual(again.status_code, 400)
        # and from another browser not even the first time
        _, _, url2 = self.fake_round("ok", fetch=False)
        self.assertEqual(Browser(self.gw).get(url2).status_code, 403)

    def legacy_login(self, email, hashed):
        self.gw.add_person(email)
        pid = self.gw.admin("person", "show", email)["person"]["id"]
        key = "kt:person:{%s}" % pid
        self.gw.redis.cmd("HDEL", key, "pwhash")
        self.gw.redis.cmd("HSET", key, "legacy_pwhash:SH", hashed)
        b = Browser(self.gw)
        p = b.login_flow("portal", CB, email, DEMO_PASSWORD, "openid email")
        self.assertIn("code", p, (email, p))
        self.assertTrue(self.gw.redis.cmd("HGET", key, "pwhash")
                        .startswith("$scrypt$"))
        self.assertIsNone(self.gw.redis.cmd("HGET", key, "legacy_pwhash:SH"))
        p = Browser(self.gw).login_flow("portal", CB, email, DEMO_PASSWORD,
                                        "openid")
        self.assertIn("code", p)
        bad = Browser(self.gw)
        page = bad.authorize("portal", CB, "openid")
        page = bad.login(page, email, "wrong password 123")
        self.assertIn('role="alert"', page.text)

    def test_legacy_hashes_upgrade_on_login(self):
        pw = DEMO_PASSWORD
        salt = secrets.token_bytes(8)
        ssha = "{SSHA1-HEX}%s$%s" % (salt.hex(), hashlib.sha1(
            salt + pw.encode()).hexdigest())
        psalt = base64.b64encode(secrets.token_bytes(12)).decode().rstrip("=")
        dk = hashlib.pbkdf2_hmac("sha256", pw.encode(), psalt.encode(), 1000)
        django = "pbkdf2_sha256$1000$%s$%s" % (psalt,
                                               base64.b64encode(dk).decode())
        for i, h in enumerate([
                crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                             rounds=2 ** 5)),
                crypt.crypt(pw, crypt.mksalt(crypt.METHOD_SHA512)),
                django, ssha]):
            self.legacy_login("legacy%d@example.com" % i, h)
        audit = self.gw.admin("audit", "tail", "-n", "100")["entries"]
        self.assertGreaterEqual(
            sum(e["action"] == "person.password.upgrade" for e in audit), 4)

    def test_merged_person_any_old_password(self):
        """kontor-migrate's layout for a person merged from two states:
        pwhash is the newest state's hash, every state's stays in
        legacy_pwhash:<LAND>:<account>. Either old password works once;
        then only ours is left."""
        email = "zusammen@example.com"
        self.gw.add_person(email)
        pid = self.gw.admin("person", "show", email)["person"]["id"]
        key = "kt:person:{%s}" % pid
        sh = crypt.crypt(DEMO_PASSWORD, crypt.mksalt(crypt.METHOD_SHA512))
        hh = crypt.crypt("altes Passwort HH 2019",
                         crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** 5))
        self.gw.redis.cmd("HSET", key, "pwhash", hh,
                          "legacy_pwhash:SH:4711", sh,
                          "legacy_pwhash:HH:0815", hh)
        p = Browser(self.gw).login_flow("portal", CB, email, DEMO_PASSWORD,
                                        "openid")
        self.assertIn("code", p)
        h = self.gw.redis.cmd("HGETALL", key)
        fields = dict(zip(h[::2], h[1::2]))
        self.assertTrue(fields["pwhash"].startswith("$scrypt$"))
        self.assertFalse([k for k in fields if k.startswith("legacy_")],
                         fields)
        # the other old password is gone with its hash
        bad = Browser(self.gw)
        page = bad.login(bad.authorize("portal", CB, "openid"), email,
                         "altes Passwort HH 2019")
        self.assertIn('role="alert"', page.text)

    def test_backchannel_logout_and_upstream_logout(self):
        self.upstream_person("abmelden@example.com", "Abmelde GmbH")
        b, r, _ = self.via_upstream("abmelden@example.com")
        tok = self.tokens(b, self.follow(b, r))
        _, idt = jwt_parts(tok["id_token"])
        # A second visit to the portal on the same session (single
        # sign-on): the session knows the portal already; logout still
        # tells it once.
        again = b.authorize("portal", CB)
        self.assertEqual(again.status_code, 303, again.text[:300])
        self.assertEqual(jwt_parts(self.tokens(b, again)["id_token"])[1]
                         ["sid"], idt["sid"])
        Recorder.posts.clear()
        r = b.get(self.gw.url + "/logout", params={
            "id_token_hint": tok["id_token"],
            "post_logout_redirect_uri": BYE, "state": "s1"})
        # our session ended; the browser goes through the state provider
        self.assertEqual(r.status_code, 303)
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.up.url + "/logout"), loc)
        r = b.get(loc)  # the upstream logs out (hint for its session)
        self.assertEqual(r.status_code, 303, r.text[:300])
        r = b.get(r.headers["Location"])  # back to us
        self.assertEqual(r.status_code, 303)
        self.assertTrue(r.headers["Location"].startswith(BYE))
        self.assertIn("state=s1", r.headers["Location"])
        # the portal heard of it on the back channel
        deadline = time.time() + 5
        while not Recorder.posts and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(Recorder.posts), 1)
        lt = dict(urllib.parse.parse_qsl(Recorder.posts[0]))["logout_token"]
        hdr, claims = jwt_parts(lt)
        self.assertEqual(hdr["typ"], "logout+jwt")
        self.assertEqual(claims["aud"], "portal")
        self.assertEqual(claims["sid"], idt["sid"])
        self.assertIn("http://schemas.openid.net/event/backchannel-logout",
                      claims["events"])
        self.assertNotIn("nonce", claims)


if __name__ == "__main__":
    unittest.main()
