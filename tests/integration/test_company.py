"""Company accounts end to end: multi-company login and organisation
selection, company claims and claim minimisation, pairwise identifiers
across sectors, the claims parameter, step-up with TOTP, invitations,
audit entries and concurrent updates (no lost update)."""

import base64
import glob
import hashlib
import hmac
import json
import os
import re
import struct
import subprocess
import threading
import time
import unittest

import requests

from harness import (BUILD, Browser, DEMO_PASSWORD, Gateway, jwt_parts,
                     parse_forms)

ADMIN = os.path.join(BUILD, "kontor-admin")
SECRET = "portal-secret-0123456789-0123456789-xyz"
CB_A = "http://127.0.0.1:9/cb"          # sector 127.0.0.1
CB_B = "http://localhost:9/cb"          # another sector: localhost
ANNA, BEN, CARL = "anna@example.com", "ben@example.com", "carl@example.com"

CLIENTS = [
    {"client_id": "gewerbe", "client_secret": SECRET, "skip_consent": True,
     "redirect_uris": [CB_A],
     "scope": "openid profile email company company_identifiers",
     "grant_types": ["authorization_code", "refresh_token"]},
    {"client_id": "gewerbe2", "client_secret": SECRET, "skip_consent": True,
     "redirect_uris": [CB_A], "scope": "openid email company",
     "grant_types": ["authorization_code"]},
    {"client_id": "steuer", "client_secret": SECRET, "skip_consent": True,
     "redirect_uris": [CB_B], "scope": "openid email company",
     "organisation_required": True,
     "grant_types": ["authorization_code"]},
]


def totp(secret_b32, t=None, step=0):
    key = base64.b32decode(secret_b32.replace(" ", "") + "=" *
                           (-len(secret_b32.replace(" ", "")) % 8))
    counter = int((t or time.time()) // 30) + step
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 10**6
    return "%06d" % code


class Company(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(CLIENTS, people=[
            {"email": ANNA, "name": "Anna Admin"},
            {"email": BEN, "name": "Ben Berater"},
            {"email": CARL, "name": "Carl Ohnefirma"}],
            config={"mail": {"outbox_dir": "{tmp}/outbox"}})
        cls.outbox = os.path.join(cls.gw.tmp, "outbox")
        cls.muster = cls.admin("org", "create", "--legal-name",
                               "Muster Maschinenbau", "--legal-form", "GmbH",
                               "--vat", "DE123456788", "--register",
                               "HRB 1234, Amtsgericht Kiel")["org"]["id"]
        cls.baeckerei = cls.admin("org", "create", "--legal-name",
                                  "Bäckerei Sonnenschein", "--legal-form",
                                  "e.K.")["org"]["id"]
        cls.admin("member", "add", cls.muster, ANNA, "--role", "admin")
        cls.admin("member", "add", cls.baeckerei, ANNA, "--role", "member")
        cls.admin("member", "add", cls.muster, BEN,
                  "--role", "representative")

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    @classmethod
    def admin(cls, *args, check=True):
        p = subprocess.run([ADMIN, "--config", cls.gw.config_path, "--json",
                            "--actor", "test"] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError("kontor-admin %s: %d %s %s" % (
                args, p.returncode, p.stdout, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def login(self, client, email, scope, cb=CB_A, extra=None, b=None,
              choose=None):
        """Login; returns (browser, params, org-selection page or None)."""
        b = b or Browser(self.gw)
        r = b.authorize(client, cb, scope, extra)
        if 'name="password"' in r.text:
            r = b.login(r, email, DEMO_PASSWORD)
        page = None
        if r.status_code == 200 and 'name="org"' in r.text:
            page = r
            forms = parse_forms(r.text)
            fields = forms[0]["fields"]
            if choose is not None:
                fields = dict(fields, org=choose)
            r = b.post(self.gw.url + "/select-org",
                       data=dict(fields, action="continue"))
        return b, Browser.callback_params(r), page

    def tokens(self, client, b, params, cb=CB_A):
        r = self.gw.token({"grant_type": "authorization_code",
                           "code": params["code"], "redirect_uri": cb,
                           "code_verifier": b.verifier},
                          auth=(client, SECRET))
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def userinfo(self, at):
        r = requests.get(self.gw.url + "/userinfo",
                         headers={"Authorization": "Bearer " + at})
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    # -------------------------------------------------------------------
    def test_choose_among_two_companies_and_claims(self):
        b, params, page = self.login("gewerbe", ANNA,
                                     "openid profile email company "
                                     "company_identifiers",
                                     choose=self.muster)
        self.assertIsNotNone(page, "two companies: a selection page")
        self.assertIn("Muster Maschinenbau", page.text)
        self.assertIn("Bäckerei Sonnenschein", page.text)
        tok = self.tokens("gewerbe", b, params)
        _, idt = jwt_parts(tok["id_token"])
        self.assertEqual(idt["org_name"], "Muster Maschinenbau")
        self.assertEqual(idt["org_legal_form"], "GMBH")
        self.assertEqual(idt["org_register_court"], "Kiel")
        self.assertEqual(idt["org_role"], "admin")
        self.assertEqual(idt["org_vat_id"], "DE123456788")
        self.assertEqual(idt["org_register_type"], "HRB")
        self.assertEqual(idt["org_register_number"], "1234")
        self.assertNotIn(self.muster, json.dumps(idt))  # no internal id
        ui = self.userinfo(tok["access_token"])
        for k in ("sub", "email", "name", "org_id", "org_name",
                  "org_legal_form", "org_role", "org_vat_id"):
            self.assertEqual(ui[k], idt[k], k)
        # the last choice is preselected next time
        b2, _, page2 = self.login("gewerbe", ANNA, "openid company", b=b)
        self.assertIsNotNone(page2)
        checked = re.search(r'value="([^"]+)" checked', page2.text).group(1)
        self.assertEqual(checked, self.muster)

    def test_single_membership_skips_the_page(self):
        b, params, page = self.login("gewerbe", BEN, "openid company")
        self.assertIsNone(page)
        _, idt = jwt_parts(self.tokens("gewerbe", b, params)["id_token"])
        self.assertEqual(idt["org_name"], "Muster Maschinenbau")
        self.assertEqual(idt["org_role"], "representative")
        self.assertNotIn("org_vat_id", idt)  # scope not requested

    def test_required_company_refuses_people_without_one(self):
        b, params, _ = self.login("steuer", CARL, "openid company", cb=CB_B)
        self.assertEqual(params["error"], "access_denied")
        # a client that does not require one lets them in, without claims
        b, params, _ = self.login("gewerbe", CARL, "openid company")
        _, idt = jwt_parts(self.tokens("gewerbe", b, params)["id_token"])
        self.assertNotIn("org_id", idt)

    def test_suspended_company_is_not_offered(self):
        org = self.admin("org", "create", "--legal-name",
                         "Ruhend AG")["org"]["id"]
        self.gw.add_person("dora@example.com")
        self.admin("member", "add", org, "dora@example.com", "--role",
                   "admin")
        self.admin("org", "suspend", org)
        b, params, _ = self.login("steuer", "dora@example.com",
                                  "openid company", cb=CB_B)
        self.assertEqual(params["error"], "access_denied")

    def test_pairwise_ids_per_sector(self):
        def ids(client, cb, org=None):
            b, params, _ = self.login(client, ANNA, "openid company", cb=cb,
                                      choose=org or self.muster)
            _, idt = jwt_parts(self.tokens(client, b, params,
                                           cb=cb)["id_token"])
            return idt["sub"], idt["org_id"]
        a1 = ids("gewerbe", CB_A)
        a2 = ids("gewerbe", CB_A)
        same_sector = ids("gewerbe2", CB_A)
        other_sector = ids("steuer", CB_B)
        self.assertEqual(a1, a2)              # stable
        self.assertEqual(a1, same_sector)     # one sector, one identity
        self.assertNotEqual(a1[0], other_sector[0])
        self.assertNotEqual(a1[1], other_sector[1])
        person = self.admin("person", "show", ANNA)["person"]
        self.assertNotIn(person["id"], a1 + other_sector)

    def test_claim_minimisation(self):
        # gewerbe2 is not registered for company_identifiers: asking for
        # the scope or for single claims yields nothing of it
        b, params, _ = self.login(
            "gewerbe2", BEN, "openid company company_identifiers",
            extra={"claims": json.dumps({"id_token": {"org_vat_id": None},
                                         "userinfo": {"org_vat_id": None}})})
        tok = self.tokens("gewerbe2", b, params)
        _, idt = jwt_parts(tok["id_token"])
        self.assertNotIn("org_vat_id", idt)
        self.assertNotIn("org_vat_id", self.userinfo(tok["access_token"]))
        self.assertNotIn("company_identifiers", tok["scope"])

    def test_claims_parameter(self):
        # only "openid": single claims named through the claims parameter
        req = {"id_token": {"email": None, "org_name": None},
               "userinfo": {"email": None, "org_vat_id": {"essential":
                                                           True}}}
        b, params, _ = self.login("gewerbe", BEN, "openid",
                                  extra={"claims": json.dumps(req)})
        tok = self.tokens("gewerbe", b, params)
        _, idt = jwt_parts(tok["id_token"])
        self.assertEqual(idt["email"], BEN)
        self.assertEqual(idt["org_name"], "Muster Maschinenbau")
        self.assertNotIn("name", idt)
        ui = self.userinfo(tok["access_token"])
        self.assertEqual(ui["email"], BEN)
        self.assertEqual(ui["org_vat_id"], "DE123456788")
        self.assertNotIn("org_name", ui)
        # malformed claims parameter
        r = Browser(self.gw).authorize("gewerbe", CB_A, "openid",
                                       {"claims": "[1]"})
        self.assertEqual(Browser.callback_params(r)["error"],
                         "invalid_request")

    def test_portal_names_the_company(self):
        b, params, _ = self.login("gewerbe", ANNA, "openid company",
                                  choose=self.baeckerei)
        _, idt = jwt_parts(self.tokens("gewerbe", b, params)["id_token"])
        bakery_id = idt["org_id"]
        b2, params, page = self.login("gewerbe", ANNA, "openid company",
                                      extra={"organisation": bakery_id})
        self.assertIsNone(page)
        _, idt = jwt_parts(self.tokens("gewerbe", b2, params)["id_token"])
        self.assertEqual(idt["org_name"], "Bäckerei Sonnenschein")
        _, params, _ = self.login("gewerbe", ANNA, "openid company",
                                  extra={"organisation": "not-hers"})
        self.assertEqual(params["error"], "access_denied")

    def test_invitation_flow_and_audit(self):
        b = Browser(self.gw)
        page = b.get(self.gw.url + "/account/org", params={
            "id": self.muster}, allow_redirects=True)
        page = b.login(page, ANNA, DEMO_PASSWORD)
        self.assertEqual(page.status_code, 303)
        page = b.get(self.gw.url + page.headers["Location"])
        self.assertIn("Ben Berater", page.text)
        invite = [f for f in parse_forms(page.text)
                  if f["action"] == "/account/org/invite"][0]
        r = b.post(self.gw.url + "/account/org/invite",
                   data=dict(invite["fields"], email="erika@example.com",
                             role="member"))
        self.assertEqual(r.status_code, 200, r.text[:400])
        mails = glob.glob(os.path.join(self.outbox, "*.eml"))
        self.assertEqual(len(mails), 1)
        with open(mails[0], encoding="utf-8") as f:
            mail = f.read()
        self.assertIn("To: erika@example.com", mail)
        link = re.search(r"(http://\S+/invite\?token=\S+)", mail).group(1)
        token = link.split("token=")[1]
        self.assertNotIn(token, self.gw.logs())  # never logged
        # the invitee has no account yet: register through the link
        e = Browser(self.gw)
        page = e.get(link)
        self.assertIn("Muster Maschinenbau", page.text)
        reg = [f for f in parse_forms(page.text)
               if f["action"] == "/invite/register"][0]
        r = e.post(self.gw.url + "/invite/register", data=dict(
            reg["fields"], name="Erika Neu", new="a long enough password",
            repeat="a long enough password"))
        self.assertEqual(r.status_code, 200, r.text[:400])
        orgs = self.admin("person", "orgs", "erika@example.com")
        self.assertEqual([(o["id"], o["role"]) for o in orgs["orgs"]],
                         [(self.muster, "member")])
        # single use
        again = Browser(self.gw).get(link)
        self.assertEqual(again.status_code, 400)
        # the audit stream names who did what
        audit = self.admin("audit", "tail", "-n", "50")
        actions = [(x["action"], x["actor"]) for x in audit["entries"]]
        self.assertIn("invite.create", [a for a, _ in actions])
        self.assertTrue(any(a == "member.add" and act.startswith("invite:")
                            for a, act in actions), actions)

    def test_step_up_with_totp(self):
        self.gw.add_person("fritz@example.com")
        b = Browser(self.gw)
        page = b.get(self.gw.url + "/account/totp")
        r = b.login(page, "fritz@example.com", DEMO_PASSWORD)
        page = b.get(self.gw.url + r.headers["Location"])
        secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1)
        self.assertIn("<svg", page.text)
        form = [f for f in parse_forms(page.text)
                if f["action"] == "/account/totp"][0]
        done = b.post(self.gw.url + "/account/totp",
                      data=dict(form["fields"], code=totp(secret)))
        self.assertEqual(done.status_code, 200)
        recovery = re.findall(r"<code>([0-9a-z]{5}-[0-9a-z]{5})</code>",
                              done.text)
        self.assertEqual(len(recovery), 10)
        # the portal demands mfa: the password-level session steps up
        mfa = {"acr_values": "urn:kontor:acr:mfa"}
        r = b.authorize("gewerbe", CB_A, "openid", mfa)
        self.assertIn('name="code"', r.text)
        wrong = b.submit(r, {"code": "000000"}, button=("action", "mfa"))
        self.assertIn('name="code"', wrong.text)
        time.sleep(max(0, 30 - time.time() % 30) + 0.2)  # a fresh step
        ok = b.submit(wrong, {"code": totp(secret)}, button=("action", "mfa"))
        params = Browser.callback_params(ok)
        _, idt = jwt_parts(self.tokens("gewerbe", b, params)["id_token"])
        self.assertEqual(idt["acr"], "urn:kontor:acr:mfa")
        self.assertEqual(idt["amr"], ["pwd", "otp"])
        # a fresh login: password, then a recovery code (single use)
        b2 = Browser(self.gw)
        r = b2.authorize("gewerbe", CB_A, "openid")
        r = b2.login(r, "fritz@example.com", DEMO_PASSWORD)
        self.assertIn('name="code"', r.text)
        ok = b2.submit(r, {"code": recovery[0].upper()},
                       button=("action", "mfa"))
        self.assertIn("code", Browser.callback_params(ok))
        b3 = Browser(self.gw)
        r = b3.login(b3.authorize("gewerbe", CB_A, "openid"),
                     "fritz@example.com", DEMO_PASSWORD)
        r = b3.submit(r, {"code": recovery[0]}, button=("action", "mfa"))
        self.assertIn('name="code"', r.text)  # used up
        # people without a second factor get an error back at the portal
        b4 = Browser(self.gw)
        r = b4.authorize("gewerbe", CB_A, "openid", mfa)
        r = b4.login(r, CARL, DEMO_PASSWORD)
        self.assertEqual(Browser.callback_params(r)["error"],
                         "unmet_authentication_requirements")

    def account_browser(self, email, password=DEMO_PASSWORD):
        b = Browser(self.gw)
        page = b.get(self.gw.url + "/account")
        r = b.login(page, email, password)
        self.assertEqual(r.status_code, 303, r.text[:300])
        return b, b.get(self.gw.url + r.headers["Location"])

    @staticmethod
    def form(page, action):
        return [f for f in parse_forms(page.text) if f["action"] == action][0]

    def test_self_service_password_and_sessions(self):
        self.gw.add_person("gerd@example.com", name="Gerd")
        other, _ = self.account_browser("gerd@example.com")
        b, page = self.account_browser("gerd@example.com")
        self.assertIn("gerd@example.com", page.text)
        self.assertEqual(page.text.count('action="/account/sessions/end"'), 2)
        pw = self.form(page, "/account/password")["fields"]
        r = b.post(self.gw.url + "/account/password", data=dict(
            pw, current="wrong password!!", new="brand new password",
            repeat="brand new password"))
        self.assertIn('role="alert"', r.text)
        r = b.post(self.gw.url + "/account/password", data=dict(
            pw, current=DEMO_PASSWORD, new="brand new password",
            repeat="brand new passwort"))
        self.assertIn('role="alert"', r.text)
        r = b.post(self.gw.url + "/account/password", data=dict(
            pw, current=DEMO_PASSWORD, new="short", repeat="short"))
        self.assertIn('role="alert"', r.text)
        r = b.post(self.gw.url + "/account/password", data=dict(
            pw, current=DEMO_PASSWORD, new="brand new password",
            repeat="brand new password"))
        self.assertIn('role="status"', r.text)
        self.account_browser("gerd@example.com", "brand new password")
        # a forged form (no token) changes nothing
        r = b.post(self.gw.url + "/account/password", data={
            "current": "brand new password", "new": "x" * 20,
            "repeat": "x" * 20})
        self.assertEqual(r.status_code, 403)
        # end the other browser's session from this one
        page = b.get(self.gw.url + "/account")
        def own_sid(p):
            for row in re.findall(r"<tr>(.*?)</tr>", p.text, re.S):
                if 'name="sid"' in row and "<strong>(" in row:
                    return re.search(r'name="sid" value="([^"]+)"',
                                     row).group(1)
        other_sid = own_sid(other.get(self.gw.url + "/account"))
        self.assertIn(other_sid, page.text)
        self.assertNotEqual(other_sid, own_sid(page))
        r = b.post(self.gw.url + "/account/sessions/end",
                   data=self.form(page, "/account/sessions/end")["fields"]
                   | {"sid": other_sid})
        self.assertEqual(r.status_code, 303)
        r = other.get(self.gw.url + "/account")
        self.assertIn('name="password"', r.text)  # logged out there
        self.assertIn("gerd@example.com",
                      b.get(self.gw.url + "/account").text)

    def test_admin_pages_roles_and_last_admin(self):
        org = self.admin("org", "create", "--legal-name",
                         "Rollen OHG")["org"]["id"]
        self.gw.add_person("hanna@example.com", name="Hanna")
        self.gw.add_person("ida@example.com", name="Ida")
        self.admin("member", "add", org, "hanna@example.com", "--role",
                   "admin")
        self.admin("member", "add", org, "ida@example.com", "--role",
                   "member")
        # a member cannot manage
        ida, _ = self.account_browser("ida@example.com")
        r = ida.get(self.gw.url + "/account/org", params={"id": org})
        self.assertEqual(r.status_code, 403)
        b, page = self.account_browser("hanna@example.com")
        self.assertIn("/account/org?id=" + org, page.text)
        page = b.get(self.gw.url + "/account/org", params={"id": org})
        roles = [f for f in parse_forms(page.text)
                 if f["action"] == "/account/org/role"]
        persons = {f["fields"]["person"]: f for f in roles}
        hanna = self.admin("person", "show", "hanna@example.com")["person"]
        ida_id = self.admin("person", "show", "ida@example.com")["person"]
        # promote Ida, then Hanna may step down
        r = b.post(self.gw.url + "/account/org/role", data=dict(
            persons[ida_id["id"]]["fields"], role="admin"))
        self.assertIn('role="status"', r.text)
        # last-admin protection once Ida is removed again
        rm = [f for f in parse_forms(r.text)
              if f["action"] == "/account/org/remove" and
              f["fields"]["person"] == ida_id["id"]][0]
        r = b.post(self.gw.url + "/account/org/remove", data=rm["fields"])
        self.assertIn('role="status"', r.text)
        own = [f for f in parse_forms(r.text)
               if f["action"] == "/account/org/remove" and
               f["fields"]["person"] == hanna["id"]][0]
        r = b.post(self.gw.url + "/account/org/remove", data=own["fields"])
        self.assertIn('role="alert"', r.text)
        members = self.admin("member", "list", org)["members"]
        self.assertEqual([(m["email"], m["role"]) for m in members],
                         [("hanna@example.com", "admin")])
        actors = {e["actor"] for e in
                  self.admin("audit", "tail", "-n", "20")["entries"]}
        self.assertIn("person:" + hanna["id"], actors)

    def test_concurrent_updates_no_lost_update(self):
        org = self.admin("org", "create", "--legal-name", "Race KG")["org"]
        version = org["version"]
        results = []

        def update(name):
            p = subprocess.run(
                [ADMIN, "--config", self.gw.config_path, "--json", "org",
                 "update", org["id"], "--expect-version", str(version),
                 "--legal-name", name], capture_output=True, text=True)
            results.append((p.returncode, name))
        threads = [threading.Thread(target=update, args=("Race KG %d" % i,))
                   for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [n for rc, n in results if rc == 0]
        self.assertEqual(len(winners), 1, results)
        self.assertTrue(all(rc == 1 for rc, n in results if n not in winners))
        now = self.admin("org", "show", org["id"])["org"]
        self.assertEqual(now["legal_name"], winners[0])
        self.assertEqual(int(now["version"]), int(version) + 1)


if __name__ == "__main__":
    unittest.main()
