"""kontor-migrate from the exports to a gateway login, against a real Redis
and the real kontor-idp (harness.py):

- the admin's whole job on the generator's fixture: import, match with
  the review queue, review apply, plan (dry run against the store), apply,
  a second apply that changes nothing, rollback;
- bad input at every stage stops with a precise message and writes nothing;
- apply killed with SIGKILL in the middle resumes from its checkpoint and
  ends in exactly the state of an uninterrupted run;
- a migrated person logs in at the gateway with the password of the
  legacy hash, acts for the migrated companies (claims), and the login
  upgrades the hash; rollback then refuses to undo that person;
- the run command's demo seed (scripts/seed-demo.sh) works and is
  idempotent, and the demo person acts for two companies.
"""

import base64
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, Browser, Gateway, jwt_parts, parse_forms

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KONTOR_SOURCE_DIR") or os.path.abspath(
    os.path.join(HERE, "..", ".."))
MIGRATE = os.path.join(BUILD, "kontor-migrate")
FIXTURES = os.path.join(SOURCE, "tests", "data", "migrate")
PROFILE = os.path.join(SOURCE, "docs", "profiles", "company.json")
MODEL = os.path.join(SOURCE, "docs", "profiles", "company.model.json")
LANDS = "BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH".split()
SECRET = "portal-secret-0123456789-0123456789-xyz"
CB = "http://127.0.0.1:9/cb"
CLIENTS = [{"client_id": "portal", "client_secret": SECRET,
            "skip_consent": True, "redirect_uris": [CB],
            "scope": "openid profile email company company_identifiers",
            "grant_types": ["authorization_code"]}]


def scrypt_phc(password, salt, ln=4, r=8, p=1):
    """A legacy export's scrypt hash, in the PHC form kontor verifies."""
    h = hashlib.scrypt(password.encode(), salt=salt, n=2 ** ln, r=r, p=p,
                       dklen=32)

    def b64(x):
        return base64.b64encode(x).decode().rstrip("=")
    return "$scrypt$ln=%d,r=%d,p=%d$%s$%s" % (ln, r, p, b64(salt), b64(h))


class Migrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(CLIENTS)
        cls.tmp = tempfile.mkdtemp(prefix="kt-migrate-apply-")
        cls.env = dict(os.environ, KONTOR_REDIS_URL=cls.gw.redis.url)
        with open(os.path.join(FIXTURES, "manifest.json")) as f:
            cls.manifest = json.load(f)
        with open(os.path.join(FIXTURES, "truth.csv"), newline="") as f:
            cls.truth = {r["record_id"]: r["entity_id"]
                         for r in csv.DictReader(f)}

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.gw.redis.cmd("FLUSHALL")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def migrate(self, *args, check=True, env=None):
        p = subprocess.run([MIGRATE, *args], capture_output=True, text=True,
                           timeout=300, env=env or self.env)
        if check and p.returncode != 0:
            raise AssertionError("kontor-migrate %s: %d\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args):
        return json.loads(self.migrate(*args, "--json").stdout)

    def keys(self, pattern):
        return self.gw.redis.keys(pattern) or []

    def store(self):
        """Every account key and value (not the audit stream, not the
        jobs' bookkeeping): what 'changes nothing' compares."""
        r, out = self.gw.redis, {}
        for k in self.keys("kt:*"):
            if k == "kt:audit" or k.startswith("kt:migjob"):
                continue
            t = r.cmd("TYPE", k)
            if t == "hash":
                v = r.cmd("HGETALL", k)
                out[k] = dict(zip(v[0::2], v[1::2]))
            elif t == "set":
                out[k] = sorted(r.cmd("SMEMBERS", k))
            else:
                out[k] = r.cmd("GET", k)
        return out

    def import_fixture(self):
        args = []
        for land in LANDS:
            e = self.manifest["lands"][land]
            args += ["--mapping", os.path.join(FIXTURES, e["mapping"]),
                     os.path.join(FIXTURES, e["file"])]
        s = self.json("import", *args, "--out", self.path("records.jsonl"),
                      "--rejects", self.path("rejects.csv"),
                      "--progress", "none")
        self.assertEqual(s["imported"], self.manifest["expected_imported"])
        return s

    def match(self):
        return self.json("match", "--profile", PROFILE,
                         "--in", self.path("records.jsonl"),
                         "--clusters", self.path("clusters.csv"),
                         "--out", self.path("pairs.csv"),
                         "--review", self.path("review.csv"),
                         "--review-html", self.path("review.html"),
                         "--model-out", self.path("model.json"),
                         "--truth", os.path.join(FIXTURES, "truth.csv"),
                         "--progress", "none")

    def plan(self, clusters="clusters.csv", out="plan.jsonl"):
        return self.json("plan", "--in", self.path("records.jsonl"),
                         "--clusters", self.path(clusters),
                         "--out", self.path(out),
                         "--skipped", self.path("skipped.csv"),
                         "--progress", "none")

    def apply(self, plan="plan.jsonl", *extra):
        return self.json("apply", "--plan", self.path(plan),
                         "--progress", "none", *extra)

    # ------------------------------------------------------------------

    def test_admin_job(self):
        self.import_fixture()
        m = self.match()
        self.assertEqual(m["stage"], "match")
        self.assertEqual(m["clusters"]["conflicting"], 0)
        self.assertGreaterEqual(m["eval"]["f1"], 0.97)
        queue = m["review"]["queue"]
        with open(self.path("review.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), queue)
        with open(self.path("review.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertEqual(page.count("<table>"), queue)

        # the admin decides the queue (here: by the truth) and reads it back
        for r in rows:
            r["decision"] = ("accept" if self.truth[r["id_a"]] ==
                             self.truth[r["id_b"]] else "reject")
        with open(self.path("decisions.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
        rv = self.json("review", "apply", self.path("decisions.csv"),
                       "--profile", PROFILE, "--in",
                       self.path("records.jsonl"), "--model",
                       self.path("model.json"), "--clusters",
                       self.path("reviewed.csv"), "--truth",
                       os.path.join(FIXTURES, "truth.csv"),
                       "--progress", "none")
        self.assertEqual(rv["stage"], "review")
        self.assertEqual(rv["review"]["queue"], 0)
        self.assertEqual(rv["review"]["accepted"] + rv["review"]["rejected"],
                         queue)
        self.assertGreaterEqual(rv["eval"]["f1"], m["eval"]["f1"])

        # plan: a dry run against the (empty) store
        p = self.plan("reviewed.csv")
        units = p["merge"]["clusters"]
        self.assertEqual(p["store"]["orgs_create"], units)
        self.assertEqual(p["store"]["people_created"], p["merge"]["people"])
        self.assertEqual(self.keys("kt:org:*"), [])
        job = p["job"]

        a = self.apply()
        self.assertEqual(a["status"], "applied")
        self.assertEqual(a["job_id"], job)
        self.assertEqual(a["run"]["orgs_created"], units)
        self.assertEqual(a["run"]["units_applied"], units)
        self.assertEqual(a["run"]["members_added"],
                         p["merge"]["memberships"])
        self.assertEqual(len(self.keys("kt:orgidx:source:*")),
                         p["merge"]["records"])
        self.assertEqual(len(self.keys("kt:email:*")), p["merge"]["people"])
        links = self.keys("kt:personidx:source:*")
        self.assertGreater(len(links), 0)
        self.assertEqual(a["run"]["person_links"], len(links))

        # again: nothing to do, nothing changes
        before = self.store()
        a2 = self.apply()
        self.assertEqual(a2["units_this_run"], 0)
        self.assertEqual(self.store(), before)
        # a new plan of the same data: every unit unchanged
        p2 = self.plan("reviewed.csv", "plan2.jsonl")
        self.assertEqual(p2["job"], job)
        self.assertEqual(p2["store"]["orgs_unchanged"], units)

        st = self.json("status", job)
        self.assertEqual(st["job"]["status"], "applied")
        self.assertEqual(st["done"], units)

        # rollback: a dry run first, then back to the empty store
        d = self.migrate("rollback", job, "--dry-run", "--progress", "none")
        self.assertIn("%d units can be undone, 0 refused" % units, d.stdout)
        self.assertNotEqual(self.keys("kt:org:*"), [])
        rb = self.json("rollback", job, "--progress", "none")
        self.assertEqual(rb["status"], "rolled_back")
        self.assertEqual(rb["undone"], units)
        self.assertEqual(self.store(), {})
        # and the job can be applied again
        self.assertEqual(self.apply()["run"]["orgs_created"], units)

    def test_bad_input(self):
        self.import_fixture()
        self.match()
        # clusters from other records
        with open(self.path("clusters.csv")) as f:
            lines = f.readlines()
        with open(self.path("short.csv"), "w") as f:
            f.writelines(lines[:-1])
        p = self.migrate("plan", "--in", self.path("records.jsonl"),
                         "--clusters", self.path("short.csv"), "--out",
                         self.path("bad-plan.jsonl"), "--offline",
                         check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"records\.jsonl:\d+: \S+ is not in "
                         r".*short\.csv \(was match run on these records\?\)")
        self.assertFalse(os.path.exists(self.path("bad-plan.jsonl")))
        # an edited plan
        self.plan()
        with open(self.path("plan.jsonl"), encoding="utf-8") as f:
            text = f.read()
        with open(self.path("edited.jsonl"), "w", encoding="utf-8") as f:
            f.write(text.replace('"role":"member"', '"role":"admin"', 1))
        p = self.migrate("apply", "--plan", self.path("edited.jsonl"),
                         check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("the units do not match the header's digest (file "
                      "edited or truncated?)", p.stderr)
        self.assertEqual(self.store(), {})
        self.assertEqual(self.keys("kt:migjob*"), [])
        # no store
        env = dict(os.environ)
        env.pop("KONTOR_REDIS_URL", None)
        p = self.migrate("apply", "--plan", self.path("plan.jsonl"),
                         check=False, env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no Redis address: give --config FILE or set "
                      "KONTOR_REDIS_URL", p.stderr)
        # rollback of a job nobody ran
        p = self.migrate("rollback", "job-000000000000", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no job job-000000000000", p.stderr)
        p = self.migrate("rollback", "nojob", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'nojob' is not a job id", p.stderr)
        # decisions that are not decisions
        with open(self.path("decisions.csv"), "w") as f:
            f.write("id_a,id_b,decision\nBY:100000,BY:100001,maybe\n")
        p = self.migrate("review", "apply", self.path("decisions.csv"),
                         "--profile", PROFILE, "--in",
                         self.path("records.jsonl"), "--clusters",
                         self.path("reviewed-bad.csv"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("decisions.csv:2: decision 'maybe': expected accept "
                      "or reject (or empty: undecided)", p.stderr)
        with open(self.path("decisions.csv"), "w") as f:
            f.write("id_a,id_b,decision\nBY:100000,XX:1,accept\n")
        p = self.migrate("review", "apply", self.path("decisions.csv"),
                         "--profile", PROFILE, "--in",
                         self.path("records.jsonl"), "--clusters",
                         self.path("reviewed-bad.csv"), check=False)
        self.assertIn("decisions.csv:2: no record 'XX:1' in the records",
                      p.stderr)
        self.assertFalse(os.path.exists(self.path("reviewed-bad.csv")))
        # records that are not JSON
        with open(self.path("records.jsonl"), encoding="utf-8") as f:
            first = f.readline()
        with open(self.path("broken.jsonl"), "w", encoding="utf-8") as f:
            f.write(first + "{oops\n")
        p = self.migrate("match", "--profile", PROFILE, "--in",
                         self.path("broken.jsonl"), "--format", "records",
                         check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("broken.jsonl:2: invalid JSON", p.stderr)
        # usage
        p = self.migrate("apply", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--plan is required", p.stderr)
        p = self.migrate("plan", "--in", "x", check=False)
        self.assertEqual(p.returncode, 2)

    def test_kill_and_resume(self):
        self.import_fixture()
        self.match()
        p = self.plan()
        units = p["merge"]["clusters"]
        job = p["job"]
        # an uninterrupted run, for comparison
        self.apply()
        clean = self.store()
        clean_counts = {k: len(self.keys(k)) for k in (
            "kt:org:*", "kt:email:*", "kt:orgidx:*", "kt:person:*")}
        self.gw.redis.cmd("FLUSHALL")

        # slowly, then SIGKILL in the middle
        proc = subprocess.Popen(
            [MIGRATE, "apply", "--plan", self.path("plan.jsonl"),
             "--batch", "10", "--rate", "200", "--progress", "none"],
            env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        key = "kt:migjob:{%s}:done" % job
        deadline = time.time() + 60
        while time.time() < deadline:
            done = self.gw.redis.cmd("HLEN", key)
            if done >= units // 3:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = self.gw.redis.cmd("HLEN", key)
        self.assertGreater(done, 0)
        self.assertLess(done, units, "the run ended before the kill")
        checkpoint = int(self.gw.redis.cmd(
            "HGET", "kt:migjob:{%s}" % job, "checkpoint"))
        self.assertLessEqual(checkpoint, done)

        r = self.migrate("apply", "--plan", self.path("plan.jsonl"),
                         "--progress", "none", "--json")
        self.assertIn("resumes after unit %d of %d" % (checkpoint, units),
                      r.stderr)
        s = json.loads(r.stdout)
        # the units written before the kill were not written again
        self.assertEqual(s["run"]["units_applied"] + s["run"]["units_done"],
                         units - checkpoint)
        self.assertEqual(s["job"]["orgs_created"], str(units))
        counts = {k: len(self.keys(k)) for k in clean_counts}
        self.assertEqual(counts, clean_counts)
        # the same accounts as the uninterrupted run, ids aside
        self.assertEqual(self.shape(self.store()), self.shape(clean))

    def shape(self, store):
        """The store without its random ids: orgs by their source links,
        people by e-mail, memberships as (sources, email, role)."""
        orgs, people, members = {}, {}, set()
        for k, v in store.items():
            if k.startswith("kt:org:{") and k.endswith("}"):
                oid = k[8:-1]
                src = tuple(store.get("kt:org:{%s}:sources" % oid, []))
                rec = {f: x for f, x in v.items()
                       if f not in ("id", "created_at", "updated_at")}
                orgs[src] = rec
                for pid, mj in store.get(
                        "kt:org:{%s}:members" % oid, {}).items():
                    pr = store["kt:person:{%s}" % pid]
                    members.add((src, pr["email"], json.loads(mj)["role"]))
            if k.startswith("kt:person:{") and k.endswith("}"):
                people[v["email"]] = {f: x for f, x in v.items()
                                      if f not in ("id", "created_at",
                                                   "updated_at")}
        return orgs, people, members

    # ------------------------------------------------------------------

    def login(self, email, password, choose=None):
        b = Browser(self.gw)
        r = b.authorize("portal", CB, "openid profile email company "
                        "company_identifiers")
        r = b.login(r, email, password)
        orgs = None
        if r.status_code == 200 and 'name="org"' in r.text:
            fields = parse_forms(r.text)[0]["fields"]
            orgs = r.text
            if choose is not None:
                fields = dict(fields, org=choose)
            r = b.post(self.gw.url + "/select-org",
                       data=dict(fields, action="continue"))
        params = Browser.callback_params(r)
        self.assertIn("code", params, r.text[:500])
        tok = self.gw.token({"grant_type": "authorization_code",
                             "code": params["code"], "redirect_uri": CB,
                             "code_verifier": b.verifier},
                            auth=("portal", SECRET))
        self.assertEqual(tok.status_code, 200, tok.text)
        return jwt_parts(tok.json()["id_token"])[1], orgs

    def test_migrated_person_logs_in(self):
        pw = "Alte-Passphrase-aus-Kiel"
        sh = scrypt_phc(pw, b"legacy-sh-salt-1")
        d = self.path("exports")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "sh.csv"), "w", encoding="utf-8") as f:
            f.write("Konto;Firma;USt-IdNr;Strasse;PLZ;Ort;Kontakt;E-Mail;"
                    "bestätigt;Hash;Rolle;Stand\n"
                    "7;Nordlicht <Software> & Söhne GmbH;DE136695976;"
                    "Hafenstraße 3;24103;Kiel;Mia Möller;"
                    "Mia.Moeller@Nordlicht.example;ja;%s;Inhaberin;"
                    "2024-06-01\n"
                    "8;Fischerei Ostsee KG;;Am Kai 1;24103;Kiel;Mia Möller;"
                    "mia.moeller@nordlicht.example;ja;;Bevollmächtigte;"
                    "2022-01-01\n" % sh)
        with open(os.path.join(d, "sh.json"), "w") as f:
            json.dump({"land": "SH", "delimiter": ";", "columns": [
                {"column": "Konto", "field": "account_id"},
                {"column": "Firma", "field": "name"},
                {"column": "USt-IdNr", "field": "vat_id"},
                {"column": "Strasse", "field": "street"},
                {"column": "PLZ", "field": "postcode"},
                {"column": "Ort", "field": "city"},
                {"column": "Kontakt", "field": "contact_name"},
                {"column": "E-Mail", "field": "contact_email"},
                {"column": "bestätigt", "field": "contact_email_verified"},
                {"column": "Hash", "field": "contact_password_hash"},
                {"column": "Rolle", "field": "contact_role"},
                {"column": "Stand", "field": "confirmed_at"}]}, f)
        self.migrate("import", "--mapping", os.path.join(d, "sh.json"),
                     os.path.join(d, "sh.csv"), "--out",
                     self.path("records.jsonl"), "--rejects",
                     self.path("rejects.csv"), "--progress", "none")
        self.migrate("match", "--profile", PROFILE, "--model", MODEL,
                     "--in", self.path("records.jsonl"), "--clusters",
                     self.path("clusters.csv"), "--progress", "none")
        job = self.plan()["job"]
        self.apply()
        pid = self.gw.redis.cmd("GET", "kt:email:{mia.moeller@nordlicht."
                                "example}")
        person = self.gw.redis.cmd("HGETALL", "kt:person:{%s}" % pid)
        person = dict(zip(person[0::2], person[1::2]))
        self.assertEqual(person["pwhash"], sh)
        self.assertEqual(person["legacy_pwhash:SH:7"], sh)
        self.assertEqual(person["email_verified"], "1")
        # both legacy accounts are her logins: a federated login with
        # either lands on this person (test_federation covers the login)
        for acc in ("SH:7", "SH:8"):
            self.assertEqual(self.gw.redis.cmd(
                "GET", "kt:personidx:source:{%s}" % acc), pid)

        # the legacy password works; two companies to choose from
        claims, page = self.login("mia.moeller@nordlicht.example", pw)
        self.assertIsNotNone(page, "expected the company choice")
        self.assertIn("Nordlicht &lt;Software&gt; &amp; Söhne GmbH", page)
        self.assertIn("Fischerei Ostsee KG", page)
        self.assertEqual(claims["email"], "mia.moeller@nordlicht.example")
        self.assertTrue(claims["email_verified"])
        self.assertEqual(claims["name"], "Mia Möller")
        self.assertIn(claims["org_name"], ("Nordlicht <Software> & Söhne GmbH",
                                           "Fischerei Ostsee KG"))
        roles = {"Nordlicht <Software> & Söhne GmbH": "admin",
                 "Fischerei Ostsee KG": "representative"}
        self.assertEqual(claims["org_role"], roles[claims["org_name"]])
        # the login upgraded the legacy hash to the gateway's own
        upgraded = self.gw.redis.cmd("HGET", "kt:person:{%s}" % pid, "pwhash")
        self.assertTrue(upgraded.startswith("$scrypt$ln=10,r=8,p=1$"),
                        upgraded)
        # ... and the exported hashes are gone with it
        self.assertIsNone(self.gw.redis.cmd(
            "HGET", "kt:person:{%s}" % pid, "legacy_pwhash:SH:7"))
        # wrong password: no login
        b = Browser(self.gw)
        r = b.authorize("portal", CB, "openid")
        r = b.login(r, "mia.moeller@nordlicht.example", "falsch-falsch-1")
        self.assertNotIn(r.status_code, (302, 303))

        # the person signed in and changed since the job: refused, kept
        rb = self.migrate("rollback", job, "--progress", "none", check=False)
        self.assertEqual(rb.returncode, 1)
        self.assertIn("person mia.moeller@nordlicht.example has signed in "
                      "since the job", rb.stdout)
        self.assertIn("nothing was rolled back", rb.stderr)
        self.assertEqual(self.gw.redis.cmd("GET", "kt:email:{mia.moeller@"
                                           "nordlicht.example}"), pid)

    def test_demo_seed(self):
        seed = os.path.join(SOURCE, "scripts", "seed-demo.sh")
        env = dict(os.environ)
        env.pop("KONTOR_REDIS_URL", None)
        for run in (1, 2):
            subprocess.run(["sh", seed, BUILD, self.gw.config_path],
                           check=True, env=env, timeout=120)
            if run == 1:
                first = self.store()
        self.assertEqual(self.store(), first)  # the second run: no change
        # one Muster Maschinenbau (SH and HH merged), one Bäckerei
        names = sorted(self.gw.redis.cmd("HGET", k, "legal_name")
                       for k in self.keys("kt:org:*")
                       if k.count(":") == 2)
        self.assertEqual(names, ["Bäckerei Sonnenschein e.K.",
                                 "Muster Maschinenbau GmbH"])
        claims, page = self.login("demo@example.com", "kontor-demo")
        self.assertIsNotNone(page)
        got = {claims["org_name"]: claims["org_role"]}
        self.assertIn(got, ({"Muster Maschinenbau GmbH": "admin"},
                            {"Bäckerei Sonnenschein e.K.":
                             "representative"}))
        if "org_vat_id" in claims:
            self.assertEqual(claims["org_vat_id"], "DE123456788")


if __name__ == "__main__":
    unittest.main()
