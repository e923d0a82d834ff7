"""scripts/demo.sh, the demo behind `./kontor.sh run`, end to end: its two
Redis servers, the gateway, the demo portal and the stand-in legacy provider
of Schleswig-Holstein, on spare ports and in a temporary var/ and keys/.
A newcomer's three walks: the demo account with two companies, a legacy
account new to kontor, and a legacy account linked by proof of control."""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import requests

import harness
import rp_util
from harness import Browser, parse_forms

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PW = "kontor-demo"


class Site:
    """Just enough of harness.Gateway for harness.Browser."""

    def __init__(self, url):
        self.url = url


class DemoScript(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kontor-demo-")
        ports = [harness.free_port() for _ in range(3)]
        cls.gw = Site("http://127.0.0.1:%d" % ports[0])
        cls.portal = "http://127.0.0.1:%d" % ports[1]
        cls.legacy = "http://127.0.0.1:%d" % ports[2]
        env = dict(os.environ, KONTOR_VAR_DIR=os.path.join(cls.tmp, "var"),
                   KONTOR_KEYS_DIR=os.path.join(cls.tmp, "keys"),
                   KONTOR_PORT=str(ports[0]), KONTOR_DEMO_PORT=str(ports[1]),
                   KONTOR_LEGACY_PORT=str(ports[2]))
        env.pop("KONTOR_REDIS_URL", None)
        cls.out = open(os.path.join(cls.tmp, "demo.out"), "wb")
        cls.proc = subprocess.Popen(
            [os.path.join(TOP, "scripts", "demo.sh"), harness.BUILD],
            env=env, stdout=cls.out, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            harness.wait_for(cls.up, timeout=90, what="scripts/demo.sh")
        except Exception:
            cls.stop()
            raise

    @classmethod
    def output(cls):
        with open(os.path.join(cls.tmp, "demo.out"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    @classmethod
    def up(cls):
        if cls.proc.poll() is not None:
            raise RuntimeError("demo.sh exited: " + cls.output())
        return "Press Ctrl-C to stop" in cls.output()

    @classmethod
    def stop(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGINT)
            try:
                cls.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(cls.proc.pid, signal.SIGKILL)
                cls.proc.wait()
        cls.out.close()

    @classmethod
    def tearDownClass(cls):
        cls.stop()
        logs = os.path.join(cls.tmp, "var", "log")
        text = ""
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), "rb") as f:
                text += f.read().decode("utf-8", "replace")
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if "Sanitizer" in text or "runtime error:" in text:
            raise AssertionError("a demo process reported:\n" + text[-4000:])

    # helpers ----------------------------------------------------------------
    def browser(self):
        b = Browser(self.gw)
        self.addCleanup(b.s.close)
        return b

    def login_page(self, b):
        """The portal's log-in link, up to the gateway's login page."""
        r = rp_util.follow(b.s, b.get(self.portal + "/protected/"),
                           stop=lambda u: u.startswith(self.gw.url))
        r = b.get(urllib.parse.urljoin(r.url, r.headers["Location"]))
        self.assertEqual(r.status_code, 200, r.text[:300])
        self.assertIn('name="password"', r.text)
        return r

    def choose_org(self, b, r, name):
        """The company selection page, if any: pick the company by name."""
        if r.status_code == 200 and 'name="org"' in r.text:
            self.assertIn(name, r.text)
            form = [f for f in parse_forms(r.text)
                    if f["action"] == "/select-org"][0]
            org = [v for v, label in self.org_options(r.text)
                   if name in label][0]
            r = b.post(self.gw.url + "/select-org",
                       data=dict(form["fields"], org=org, action="continue"))
        return r

    @staticmethod
    def org_options(text):
        """(value, label text) of each org choice on the selection page."""
        import re
        out = []
        for m in re.finditer(r'<input[^>]*name="org"[^>]*value="([^"]*)"'
                             r'[^>]*>(.*?)</label>', text, re.S):
            out.append((m.group(1), re.sub("<[^>]+>", "", m.group(2))))
        return out

    def at_portal(self, b, r):
        """Follow back to the portal; its claims page."""
        r = rp_util.follow(b.s, r)
        self.assertEqual(r.status_code, 200, r.text[:500])
        self.assertTrue(r.url.startswith(self.portal), r.url)
        return rp_util.tables(r.text).get("id_token", {})

    def via_legacy(self, b, email):
        """Login page → the SH button → the legacy provider's login."""
        page = self.login_page(b)
        self.assertIn("Unternehmenskonto Schleswig-Holstein", page.text)
        form = [f for f in parse_forms(page.text)
                if f["action"] == "/federate"][0]
        r = b.post(self.gw.url + "/federate",
                   data=dict(form["fields"], land="SH"))
        self.assertEqual(r.status_code, 303, r.text[:300])
        self.assertTrue(r.headers["Location"].startswith(self.legacy))
        r = b.get(r.headers["Location"])
        self.assertIn("Schleswig-Holstein (Altsystem", r.text)
        r = b.login(r, email, PW)
        self.assertEqual(r.status_code, 303, r.text[:300])
        return b.get(r.headers["Location"])  # our /federate/callback

    # tests ----------------------------------------------------------------
    def test_demo_account_with_two_companies(self):
        b = self.browser()
        r = b.login(self.login_page(b), "demo@example.com", PW)
        r = self.choose_org(b, r, "Bäckerei Sonnenschein")
        idt = self.at_portal(b, r)
        self.assertEqual(idt.get("email"), "demo@example.com")
        self.assertTrue(idt.get("org_name", "").startswith(
            "Bäckerei Sonnenschein"), idt)

    def test_legacy_account_new_to_kontor(self):
        b = self.browser()
        r = self.via_legacy(b, "nord@example.com")
        idt = self.at_portal(b, r)
        self.assertEqual(idt.get("email"), "nord@example.com")
        self.assertEqual(idt.get("org_name"), "Nordlicht Fischerei")
        self.assertEqual(idt.get("acr"), "urn:kontor:acr:legacy")

    def test_legacy_account_linked_by_proof_of_control(self):
        b = self.browser()
        r = self.via_legacy(b, "kiel@example.com")
        # same VAT id as the demo company: sign in to link
        self.assertEqual(r.status_code, 200, r.text[:300])
        self.assertIn('role="status"', r.text)
        # the other way to prove control: a code to the account's address,
        # which the demo's mail sender writes to var/outbox
        code_page = b.submit(r, {"email": "demo@example.com"},
                             button=("action", "mailcode"))
        self.assertIn('name="code"', code_page.text)
        mails = glob.glob(os.path.join(self.tmp, "var", "outbox", "*.eml"))
        self.assertTrue(any("demo@example.com" in open(m).read()
                            for m in mails), mails)
        r = b.login(r, "demo@example.com", PW)
        r = self.choose_org(b, r, "Muster Maschinenbau")
        idt = self.at_portal(b, r)
        self.assertEqual(idt.get("email"), "demo@example.com")
        # linked now: the next legacy login lands on the unified account
        b2 = self.browser()
        r = self.via_legacy(b2, "kiel@example.com")
        r = self.choose_org(b2, rp_util.follow(
            b2.s, r, stop=lambda u: u.startswith(self.portal)),
            "Muster Maschinenbau")
        idt = self.at_portal(b2, r)
        self.assertEqual(idt.get("email"), "demo@example.com")
        self.assertEqual(idt.get("acr"), "urn:kontor:acr:legacy")


if __name__ == "__main__":
    unittest.main()
