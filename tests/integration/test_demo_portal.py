"""The demo portal (kontor-demo-portal, liboauth2's OpenID Connect client)
against the harness gateway: login with consent, the claims page, the
portal's own ID-token checks, a denied consent, and logout through the
gateway's end_session_endpoint back to the portal."""

import os
import subprocess
import unittest
import urllib.parse

import requests

import harness
import rp_util

PORTAL = os.path.join(harness.BUILD, "kontor-demo-portal")
SECRET = "demo-portal-secret-" + "d" * 32
EMAIL = "anna.schmidt@example.de"
NAME = "Anna <Schmidt> & Co"  # shows up escaped, or the test fails


class DemoPortal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = harness.free_port()
        cls.url = "http://127.0.0.1:%d" % cls.port
        clients = [{
            "client_id": "demo-portal", "client_secret": SECRET,
            "client_name": "Demo-Portal",
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [cls.url + "/protected/redirect_uri"],
            "post_logout_redirect_uris": [cls.url + "/"],
            "grant_types": ["authorization_code", "refresh_token"],
        }]
        cls.gw = harness.Gateway(clients=clients,
                                 people=[{"email": EMAIL, "name": NAME}])
        cls.log_path = os.path.join(cls.gw.tmp, "portal.log")
        cls.log = open(cls.log_path, "ab")
        cls.proc = subprocess.Popen(
            [PORTAL, "--port", str(cls.port), "--issuer", cls.gw.url,
             "--client-id", "demo-portal", "--wait", "10"],
            env=dict(os.environ, KONTOR_DEMO_CLIENT_SECRET=SECRET),
            stdout=cls.log, stderr=cls.log)
        try:
            harness.wait_for(cls.portal_up, timeout=15, what="demo portal")
        except Exception:
            cls.stop_portal()
            cls.gw.close()
            raise

    @classmethod
    def portal_up(cls):
        if cls.proc.poll() is not None:
            raise RuntimeError("portal exited: " + cls.portal_log())
        return requests.get(cls.url + "/", timeout=1).status_code == 200

    @classmethod
    def portal_log(cls):
        with open(cls.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @classmethod
    def stop_portal(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()
            try:
                cls.proc.wait(10)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
        cls.log.close()

    @classmethod
    def tearDownClass(cls):
        # Like the harness does for the gateway: a crash, a sanitizer
        # report or a leak in the portal fails the module.
        cls.stop_portal()
        rc, log = cls.proc.returncode, cls.portal_log()
        cls.gw.close()
        if rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("kontor-demo-portal did not exit cleanly "
                                 "(%s):\n%s" % (rc, log[-4000:]))

    def run(self, result=None):
        return rp_util.run_with_logs(self, super().run, result,
                                     lambda: self.gw.logs(),
                                     lambda: self.portal_log())

    def browser(self):
        b = harness.Browser(self.gw)
        self.addCleanup(b.s.close)
        return b

    def to_gateway_login(self, b):
        """Landing page button → /protected/ → the gateway's login page."""
        r = b.get(self.url + "/")
        self.assertEqual(r.status_code, 200)
        self.assertIn('href="/protected/"', r.text)
        r = b.get(self.url + "/protected/")
        self.assertEqual(r.status_code, 302, r.text[:300])
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.gw.url + "/authorize?"), loc)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["client_id"], "demo-portal")
        self.assertEqual(q["redirect_uri"],
                         self.url + "/protected/redirect_uri")
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertIn("nonce", q)
        # liboauth2's state cookie and the portal's nonce cookie.
        names = {c.name for c in b.s.cookies}
        self.assertIn("openidc_state_" + q["state"], names)
        self.assertIn("kontor_demo_nonce_" + q["state"], names)
        r = b.get(loc)
        self.assertEqual(r.status_code, 200, r.text[:300])
        self.assertIn('name="password"', r.text)
        return r, q

    def consent(self, b, r, decision="allow"):
        r = b.login(r, EMAIL, harness.DEMO_PASSWORD)
        if r.status_code == 200 and 'value="allow"' in r.text:
            self.assertIn("Demo-Portal", r.text)
            r = b.submit(r, {}, button=("decision", decision))
        self.assertIn(r.status_code, (302, 303), r.text[:500])
        cb = r.headers["Location"]
        self.assertTrue(cb.startswith(self.url + "/protected/redirect_uri?"),
                        cb)
        return cb

    def login(self, b):
        r, _ = self.to_gateway_login(b)
        cb = self.consent(b, r)
        r = b.get(cb)  # the portal exchanges the code here
        self.assertEqual(r.status_code, 302, r.text[:500])
        self.assertEqual(r.headers["Location"], self.url + "/protected/")
        set_cookie = r.headers.get("Set-Cookie", "")
        self.assertIn("kontor_demo_session=", set_cookie)
        self.assertNotIn("SameSite=None", set_cookie)
        return rp_util.follow(b.s, r)

    def test_login_shows_claims(self):
        b = self.browser()
        r = self.login(b)
        self.assertEqual(r.status_code, 200, r.text[:500])
        self.assertIn("style-src 'sha256-",
                      r.headers["Content-Security-Policy"])
        # The name is escaped, never markup.
        self.assertIn("Anna &lt;Schmidt&gt; &amp; Co", r.text)
        self.assertNotIn("<Schmidt>", r.text)
        t = rp_util.tables(r.text)
        idt, ui = t.get("id_token", {}), t.get("userinfo", {})
        self.assertEqual(idt.get("iss"), self.gw.url)
        self.assertEqual(idt.get("aud"), "demo-portal")
        self.assertEqual(idt.get("email"), EMAIL)
        self.assertEqual(idt.get("name"), NAME)
        self.assertRegex(idt.get("sub", ""), r"^[A-Za-z0-9_-]{16,}$")
        self.assertIn("nonce", idt)
        self.assertEqual(ui.get("sub"), idt["sub"])
        self.assertEqual(ui.get("email"), EMAIL)
        self.assertEqual(ui.get("email_verified"), "true")
        # Nonce cookie used up, state cookie deleted.
        names = {c.name for c in b.s.cookies if c.value}
        self.assertFalse([n for n in names
                          if n.startswith(("kontor_demo_nonce_",
                                           "openidc_state_"))], names)
        # The session carries the next visit without the gateway.
        r = b.get(self.url + "/protected/")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(rp_util.tables(r.text)["id_token"]["sub"],
                         idt["sub"])

    def test_missing_nonce_cookie_is_rejected(self):
        """A callback in a browser that did not start the login (here: the
        nonce cookie is gone) must not become a session."""
        b = self.browser()
        r, q = self.to_gateway_login(b)
        cb = self.consent(b, r)
        b.s.cookies.clear(domain="127.0.0.1", path="/",
                          name="kontor_demo_nonce_" + q["state"])
        r = b.get(cb)
        self.assertEqual(r.status_code, 403, r.text[:500])
        self.assertIn("nonce", r.text)
        self.assertNotIn("id_token", rp_util.tables(r.text))
        session = [c for c in b.s.cookies
                   if c.name == "kontor_demo_session" and c.value]
        self.assertEqual(session, [])
        r = b.get(self.url + "/protected/")
        self.assertEqual(r.status_code, 302)

    def test_denied_consent(self):
        b = self.browser()
        r, _ = self.to_gateway_login(b)
        cb = self.consent(b, r, decision="deny")
        self.assertIn("error=access_denied", cb)
        r = b.get(cb)
        self.assertEqual(r.status_code, 403, r.text[:500])
        self.assertIn("access_denied", r.text)
        self.assertIn('href="/protected/"', r.text)

    def test_logout_round_trip(self):
        b = self.browser()
        r = self.login(b)
        self.assertEqual(r.status_code, 200, r.text[:500])
        self.assertIn('href="/logout"', r.text)
        r = b.get(self.url + "/logout")
        self.assertEqual(r.status_code, 303)
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.gw.url + "/logout?"), loc)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["client_id"], "demo-portal")
        self.assertEqual(q["post_logout_redirect_uri"], self.url + "/")
        r = b.get(loc)
        if r.status_code == 200 and 'value="logout"' in r.text:
            r = b.submit(r, {}, button=("decision", "logout"))
        self.assertIn(r.status_code, (302, 303), r.text[:500])
        self.assertEqual(r.headers["Location"].split("?")[0], self.url + "/")
        r = b.get(r.headers["Location"])
        self.assertEqual(r.status_code, 200)
        self.assertIn('href="/protected/"', r.text)
        # Logged out at both ends: the gateway wants the password again.
        r, _ = self.to_gateway_login(b)

    def test_foreign_host_is_sent_to_the_portal_origin(self):
        r = requests.get(self.url + "/protected/?x=1",
                         headers={"Host": "evil.example:%d" % self.port},
                         allow_redirects=False, timeout=5)
        self.assertEqual(r.status_code, 302)
        self.assertEqual(r.headers["Location"], self.url + "/protected/?x=1")
        r = requests.post(self.url + "/protected/", timeout=5,
                          allow_redirects=False)
        self.assertEqual(r.status_code, 405)


if __name__ == "__main__":
    unittest.main()
