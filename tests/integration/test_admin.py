"""kontor-admin against a real Redis and the real gateway: every command,
its refusals (message and exit code) and its --json output."""

import json
import os
import signal
import subprocess
import time
import unittest

import requests

from harness import BUILD, Browser, DEMO_PASSWORD, Gateway, free_port

ADMIN = os.path.join(BUILD, "kontor-admin")
SECRET = "portal-secret-0123456789-0123456789-xyz"
CB = "http://127.0.0.1:9/cb"
PASSWORD = "correct horse battery staple"

CLIENTS = [
    {"client_id": "portal", "client_secret": SECRET,
     "redirect_uris": [CB], "skip_consent": True,
     "grant_types": ["authorization_code", "refresh_token"]},
]

VAT = "DE123456788"          # valid (worked example of the reference)
VAT2 = "DE812345673"         # valid
VAT3 = "DE271543989"         # valid
VAT_BAD = "DE123456789"      # wrong check digit


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(CLIENTS)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    # helpers -----------------------------------------------------------
    def run_admin(self, *args, config=True, env=None, stdin=None,
                  json_out=True):
        argv = [ADMIN]
        if config:
            argv += ["--config", self.gw.config_path]
        if json_out:
            argv.append("--json")
        argv += list(args)
        e = dict(os.environ)
        e.pop("KONTOR_REDIS_URL", None)
        e["USER"] = "tester"
        e.update(env or {})
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=60,
                           text=True)
        doc = None
        if json_out and p.stdout.strip():
            doc = json.loads(p.stdout)      # every --json output parses
        return p.returncode, doc, p.stdout, p.stderr

    def ok(self, *args, **kw):
        rc, doc, out, err = self.run_admin(*args, **kw)
        self.assertEqual(rc, 0, "%s: %s %s" % (args, out, err))
        return doc

    def fails(self, rc, message, *args, **kw):
        """The command fails with exit code rc and exactly this message,
        on stderr and (with --json) in the error document."""
        got, doc, out, err = self.run_admin(*args, **kw)
        self.assertEqual(got, rc, "%s: %s %s" % (args, out, err))
        self.assertIn(message, err)
        if kw.get("json_out", True):
            self.assertIn(message, doc["error"]["message"])
            self.assertEqual(doc["error"]["exit"], rc)
        return doc, err

    def unique(self):
        type(self).n += 1
        return type(self).n

    def org(self, name, *extra):
        doc = self.ok("org", "create", "--legal-name", name, *extra)
        return doc["org"]["id"]

    def person(self, email, name="Test Person"):
        doc = self.ok("person", "create", "--email", email, "--name", name,
                      "--verified", "--password-env", "PW",
                      env={"PW": PASSWORD})
        return doc["person"]["id"]

    def audit(self, **filters):
        args = ["audit", "tail", "-n", "4000"]
        for k, v in filters.items():
            args += ["--" + k, v]
        return self.ok(*args)["entries"]

    # help and usage ------------------------------------------------------
    def test_help(self):
        rc, _, out, _ = self.run_admin("--help", config=False, json_out=False)
        self.assertEqual(rc, 0)
        for part in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS",
                     "ENVIRONMENT", "EXAMPLES", "org merge LOSER SURVIVOR"):
            self.assertIn(part, out)
        commands = [("org", c) for c in ("create", "show", "find", "suspend",
                                         "activate", "update", "merge")]
        commands += [("person", c) for c in ("create", "show", "disable",
                                             "enable", "orgs")]
        commands += [("member", c) for c in ("add", "role", "remove", "list")]
        commands += [("client", c) for c in ("register", "list", "show",
                                             "rotate-secret")]
        commands += [("session", "list"), ("session", "revoke"),
                     ("audit", "tail")]
        for g, c in commands:
            rc, _, out, err = self.run_admin(g, c, "--help", config=False,
                                             json_out=False)
            self.assertEqual(rc, 0, (g, c, err))
            for part in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES",
                         "GLOBAL OPTIONS", "EXIT STATUS"):
                self.assertIn(part, out, (g, c))
            self.assertIn("kontor-admin %s %s" % (g, c), out)
        rc, _, out, _ = self.run_admin("org", "--help", config=False,
                                       json_out=False)
        self.assertEqual(rc, 0)
        self.assertIn("COMMANDS", out)

    def test_usage_errors(self):
        rc, _, _, err = self.run_admin(config=False, json_out=False)
        self.assertEqual(rc, 2)
        self.assertIn("SYNOPSIS", err)
        rc, _, _, err = self.run_admin("org", config=False, json_out=False)
        self.assertEqual(rc, 2)
        self.assertIn("kontor-admin org: which command?", err)
        rc, _, _, err = self.run_admin("org", "delete", json_out=False)
        self.assertEqual(rc, 2)
        self.assertIn("unknown command 'org delete'", err)
        rc, _, _, err = self.run_admin("frobnicate", json_out=False)
        self.assertEqual(rc, 2)
        self.assertIn("unknown command 'frobnicate'", err)
        self.fails(2, "unknown option '--colour'", "org", "show", "x",
                   "--colour")
        # a single dash that is no option is an operand: ids may start
        # with '-'
        self.fails(1, "no organisation -x", "org", "show", "-x")
        self.fails(2, "unexpected argument '-x'", "audit", "tail", "-x")
        self.fails(2, "-n: '-5' is not a number", "audit", "tail", "-n",
                   "-5")
        self.fails(2, "missing argument (1 expected, 0 given)",
                   "org", "show")
        self.fails(2, "unexpected argument 'b'", "org", "show", "a", "b")
        self.fails(2, "--legal-name needs a value", "org", "create",
                   "--legal-name")
        self.fails(2, "option --vat does not apply here", "org", "show",
                   "x", "--vat", VAT)
        rc, _, _, err = self.run_admin("--bogus", "org", "show", "x",
                                       json_out=False)
        self.assertEqual(rc, 2)
        self.assertIn("unknown option '--bogus'", err)
        # global options after the command work too
        rc, _, out, _ = self.run_admin("org", "show", "nope", "--json",
                                       json_out=False)
        self.assertEqual(rc, 1)
        self.assertEqual(json.loads(out)["error"]["code"], "not_found")

    def test_no_redis(self):
        port = free_port()
        env = {"KONTOR_REDIS_URL": "redis://127.0.0.1:%d/0" % port}
        doc, _ = self.fails(3, "cannot reach Redis at 127.0.0.1:%d" % port,
                            "org", "show", "x", config=False, env=env)
        self.assertEqual(doc["error"]["code"], "unavailable")
        # the override also wins over the configuration's address
        self.fails(3, "cannot reach Redis at 127.0.0.1:%d" % port,
                   "org", "show", "x", env=env)
        # the password of the URL is never printed
        env = {"KONTOR_REDIS_URL": "redis://:s3cret@127.0.0.1:%d/0" % port}
        _, err = self.fails(3, "cannot reach Redis", "org", "show", "x",
                            config=False, env=env)
        self.assertNotIn("s3cret", err)
        self.fails(2, "no Redis address: give --config FILE or set "
                   "KONTOR_REDIS_URL", "org", "show", "x", config=False)
        self.fails(2, "KONTOR_REDIS_URL: ", "org", "show", "x",
                   config=False, env={"KONTOR_REDIS_URL": "http://x"})
        self.fails(2, "config: ", "--config", "/nonexistent/kontor.json",
                   "org", "show", "x", config=False)
        # without --config, KONTOR_REDIS_URL is enough for the model
        env = {"KONTOR_REDIS_URL": self.gw.redis.url}
        self.fails(1, "no organisation nope", "org", "show", "nope",
                   config=False, env=env)

    # organisations ---------------------------------------------------------
    def test_org_create_show_find(self):
        doc = self.ok("org", "create", "--legal-name", "Muster GmbH",
                      "--legal-form", "G.m.b.H.", "--vat", "de 123 456 788",
                      "--taxno", "143/215/30457", "--taxno-land", "BY",
                      "--register", "HRB 1234, Amtsgericht Kiel",
                      "--wid", "DE123456788-00001",
                      "--street", "Holstenstraße", "--house-number", "1 a",
                      "--postcode", "24103", "--city", "Kiel",
                      "--source", "by:4711", "--source", "DE-SH:0815",
                      "--source", "BY:4711")
        org = doc["org"]
        oid = org["id"]
        self.assertTrue(doc["message"].startswith("created organisation"))
        self.assertNotIn("warnings", doc)
        self.assertEqual(org["legal_form"], "GMBH")
        self.assertEqual(org["vat"], VAT)
        self.assertEqual(org["vat_valid"], "1")
        self.assertEqual(org["taxno"], "9143021530457")
        self.assertEqual(org["taxno_valid"], "1")
        self.assertEqual((org["hr_court"], org["hr_type"], org["hr_number"],
                          org["hr_valid"]), ("kiel", "HRB", "1234", "1"))
        self.assertEqual(org["wid_valid"], "1")
        self.assertEqual(org["house_number"], "1a")
        self.assertEqual(org["country"], "DE")
        self.assertEqual(org["status"], "active")
        self.assertEqual(org["version"], "1")
        self.assertEqual(doc["sources"], ["BY:4711", "SH:0815"])
        self.assertEqual(doc["members"], [])

        show = self.ok("org", "show", oid)
        self.assertEqual(show["org"], org)
        # each identifier finds it, in any of its notations
        for args in (["--vat", "DE 123456788"],
                     ["--register", "Amtsgericht Kiel HRB 1234"],
                     ["--register", "HRB 1234 (AG Kiel)"],
                     ["--taxno", "9143021530457"],
                     ["--taxno", "143/215/30457", "--taxno-land", "by"],
                     ["--wid", "de123456788-00001"],
                     ["--source", "SH:0815"]):
            self.assertEqual(self.ok("org", "find", *args)["org"]["id"], oid,
                             args)
        # text output
        rc, _, out, _ = self.run_admin("org", "show", oid, json_out=False)
        self.assertEqual(rc, 0)
        self.assertIn("VAT id:          DE123456788 (valid)", out)
        self.assertIn("register:        HRB 1234, Amtsgericht Kiel (valid)",
                      out)
        self.assertIn("legal form:      GmbH (GMBH)", out)
        # audited
        e = self.audit(object="org:" + oid)
        self.assertEqual([x["action"] for x in e], ["org.create"])
        self.assertEqual(e[0]["actor"], "admin:tester")
        # not found
        self.fails(1, "no organisation with vat " + VAT3, "org", "find",
                   "--vat", VAT3)
        self.fails(1, "no organisation nope", "org", "show", "nope")

    def test_org_conflicts_and_invalid_identifiers(self):
        oid = self.org("Alpha GmbH", "--vat", VAT2, "--source", "NW:1")
        before = self.gw.redis.cmd("DBSIZE")
        doc, _ = self.fails(1, "identifier %s belongs to organisation %s"
                            % (VAT2, oid), "org", "create",
                            "--legal-name", "Copy", "--vat", VAT2)
        self.assertEqual(doc["error"]["code"], "conflict")
        self.fails(1, "source NW:1 belongs to organisation " + oid,
                   "org", "create", "--legal-name", "Copy",
                   "--source", "nw:1")
        self.assertEqual(self.gw.redis.cmd("DBSIZE"), before + 0)
        # invalid identifiers: stored, flagged, never indexed, warned
        rc, doc, _, err = self.run_admin(
            "org", "create", "--legal-name", "Beta KG", "--vat", VAT_BAD,
            "--taxno", "21/815/12345", "--register", "HRB 99",
            "--wid", "DE123456788-1")
        self.assertEqual(rc, 0, err)
        org = doc["org"]
        self.assertEqual((org["vat"], org["vat_valid"]), (VAT_BAD, "0"))
        self.assertEqual(org["taxno_valid"], "0")
        self.assertEqual(org["hr_valid"], "0")
        self.assertEqual(org["wid_valid"], "0")
        self.assertEqual(len(doc["warnings"]), 4)
        self.assertIn("VAT id 'DE123456789' is invalid (check digit is 9, "
                      "expected 8): stored, flagged, not indexed", err)
        self.assertIn("ambiguous without the Land", err)
        self.assertIn("register entry 'HRB 99' names no court", err)
        self.assertIsNone(self.gw.redis.cmd("GET",
                                            "kt:orgidx:vat:{%s}" % VAT_BAD))
        # a second organisation with the same invalid id is no conflict
        self.org("Gamma KG", "--vat", VAT_BAD)
        # and an invalid id cannot be searched for
        self.fails(2, "--vat: 'DE123456789' is not a valid VAT id (check "
                   "digit is 9, expected 8); invalid identifiers are never "
                   "indexed", "org", "find", "--vat", VAT_BAD)
        self.fails(2, "--register: 'HRB 99' names no known register court",
                   "org", "find", "--register", "HRB 99")

    def test_org_bad_input(self):
        cases = [
            (["org", "create"], "--legal-name is required"),
            (["org", "create", "--legal-name", ""],
             "--legal-name: must not be empty"),
            (["org", "create", "--legal-name", "A {b}"],
             "--legal-name: must not contain '{' or '}'"),
            (["org", "create", "--legal-name", "A\tB"],
             "--legal-name: contains a control character"),
            (["org", "create", "--legal-name", "X" * 301],
             "--legal-name: longer than 300 bytes"),
            (["org", "create", "--legal-name", "A", "--legal-form", "Corp"],
             "--legal-form: unknown legal form 'Corp'"),
            (["org", "create", "--legal-name", "A", "--street", "Weg"],
             "an address needs --street, --postcode and --city"),
            (["org", "create", "--legal-name", "A", "--street", "Weg",
              "--postcode", "2410", "--city", "Kiel"],
             "--postcode: '2410': a German postcode has 5 digits"),
            (["org", "create", "--legal-name", "A", "--street", "Weg",
              "--postcode", "abcde", "--city", "Kiel"],
             "--postcode: 'abcde': "),
            (["org", "create", "--legal-name", "A", "--street", "Weg",
              "--house-number", "x1", "--postcode", "24103",
              "--city", "Kiel"],
             "--house-number: 'x1': "),
            (["org", "create", "--legal-name", "A", "--source", "BY4711"],
             "--source: 'BY4711' is not LAND:ID (e.g. BY:4711)"),
            (["org", "create", "--legal-name", "A", "--source", "XX:1"],
             "--source: unknown Land 'XX' (one of BW BY BE"),
            (["org", "create", "--legal-name", "A", "--source", "BY:"],
             "--source: the legacy id after 'BY:' must have 1 to 64 "
             "characters"),
            (["org", "create", "--legal-name", "A", "--source", "BY:a b"],
             "--source: the legacy id 'a b' must be printable ASCII"),
            (["org", "create", "--legal-name", "A", "--taxno-land", "BY"],
             "--taxno-land only goes with --taxno"),
            (["org", "create", "--legal-name", "A", "--taxno", "1",
              "--taxno-land", "Bavaria"],
             "--taxno-land: unknown Land 'Bavaria'"),
            (["org", "show", "a/b"],
             "organisation id: 'a/b' is not an identifier"),
            (["org", "update", "x"], "--expect-version N is required"),
            (["org", "update", "x", "--expect-version", "0"],
             "--expect-version: '0' is not a version number"),
            (["org", "update", "x", "--expect-version", "v2"],
             "--expect-version: 'v2' is not a version number"),
            (["org", "find"], "give exactly one of --vat, --register"),
            (["org", "find", "--vat", VAT, "--wid", "DE123456788-00001"],
             "give exactly one of --vat, --register"),
            (["org", "find", "--taxno", "21/815/12345"],
             "--taxno: '21/815/12345' is not a valid tax number "
             "(ambiguous without the Land"),
            (["org", "merge", "a", "a"],
             "cannot merge an organisation into itself"),
            (["org", "create", "--legal-name", "A", "--actor", "x{y}"],
             "--actor: must not contain '{' or '}'"),
        ]
        before = self.gw.redis.cmd("DBSIZE")
        for args, msg in cases:
            got, doc, out, err = self.run_admin(*args)
            self.assertEqual(got, 2, (args, out, err))
            self.assertIn(msg, err, args)
            self.assertIn(doc["error"]["code"], ("usage", "invalid"))
        self.assertEqual(self.gw.redis.cmd("DBSIZE"), before)

    def test_org_update_status(self):
        oid = self.org("Delta GmbH", "--vat", VAT3, "--postcode", "80331",
                       "--street", "Marienplatz", "--city", "München")
        doc = self.ok("org", "update", oid, "--expect-version", "1",
                      "--legal-name", "Delta Holding GmbH", "--vat", "",
                      "--taxno", "143/215/30999", "--source", "BY:77")
        self.assertEqual(doc["org"]["version"], "2")
        self.assertEqual(doc["org"]["legal_name"], "Delta Holding GmbH")
        self.assertNotIn("vat", doc["org"])
        # the postcode's Land (Bayern) reads the tax number
        self.assertEqual(doc["org"]["taxno"], "9143021530999")
        self.assertEqual(doc["sources"], ["BY:77"])
        self.assertIsNone(self.gw.redis.cmd("GET", "kt:orgidx:vat:{%s}"
                                            % VAT3))
        # a stale version: refused, nothing changed
        doc, _ = self.fails(1, "version 1 is stale (now 2)", "org", "update",
                            oid, "--expect-version", "1",
                            "--legal-name", "Lost Update")
        self.assertEqual(doc["error"]["code"], "conflict")
        self.assertEqual(self.ok("org", "show", oid)["org"]["legal_name"],
                         "Delta Holding GmbH")
        # no change: no new version
        doc = self.ok("org", "update", oid, "--expect-version", "2",
                      "--legal-name", "Delta Holding GmbH")
        self.assertEqual(doc["org"]["version"], "2")
        self.assertIn("unchanged", doc["message"])
        self.fails(2, "nothing to change", "org", "update", oid,
                   "--expect-version", "2")
        self.fails(2, "--legal-name: an organisation always has a legal "
                   "name", "org", "update", oid, "--expect-version", "2",
                   "--legal-name", "")
        self.fails(1, "no organisation nope", "org", "update", "nope",
                   "--expect-version", "1", "--city", "X")
        # suspend / activate, idempotent
        doc = self.ok("org", "suspend", oid)
        self.assertEqual(doc["org"]["status"], "suspended")
        self.assertIn("is now suspended", doc["message"])
        doc = self.ok("org", "suspend", oid)
        self.assertIn("is already suspended", doc["message"])
        doc = self.ok("org", "activate", oid)
        self.assertEqual(doc["org"]["status"], "active")
        self.fails(1, "no organisation nope", "org", "suspend", "nope")
        actions = [x["action"] for x in self.audit(object="org:" + oid)]
        self.assertEqual(actions, ["org.create", "org.update",
                                   "org.source.add", "org.suspend",
                                   "org.activate"])

    def test_concurrent_updates(self):
        """Two admins change one organisation from the same version at
        once: exactly one wins, the other is told, no update is lost."""
        oid = self.org("Race GmbH")
        for rnd in range(1, 6):
            procs = [subprocess.Popen(
                [ADMIN, "--config", self.gw.config_path, "--json", "org",
                 "update", oid, "--expect-version", str(rnd),
                 "--city", "City %d-%d" % (rnd, i)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(2)]
            rcs = sorted(p.wait(30) for p in procs)
            for p in procs:
                p.stdout.close()
                p.stderr.close()
            self.assertEqual(rcs, [0, 1])
        self.assertEqual(self.ok("org", "show", oid)["org"]["version"], "6")

    def test_org_merge(self):
        a = self.person("merge-a%d@example.de" % self.unique())
        b = self.person("merge-b%d@example.de" % self.unique())
        loser = self.org("Epsilon GmbH", "--source", "HH:5")
        survivor = self.org("Epsilon Holding GmbH")
        self.ok("member", "add", loser, a, "--role", "admin")
        self.ok("member", "add", loser, b, "--role", "representative")
        self.ok("member", "add", survivor, b, "--role", "member")
        self.ok("member", "add", survivor, a, "--role", "representative")
        doc = self.ok("org", "merge", loser, survivor)
        self.assertEqual(doc["org"]["id"], survivor)
        roles = {m["person"]: m["role"] for m in doc["members"]}
        self.assertEqual(roles, {a: "admin", b: "member"})
        self.assertEqual(doc["sources"], ["HH:5"])
        # the loser resolves to the survivor
        doc = self.ok("org", "show", loser)
        self.assertEqual(doc["org"]["id"], survivor)
        self.assertEqual(doc["org"]["resolved_from"], loser)
        rc, _, out, _ = self.run_admin("org", "show", loser, json_out=False)
        self.assertIn("(%s was merged into %s" % (loser, survivor), out)
        self.assertEqual(self.ok("org", "find", "--source", "HH:5")
                         ["org"]["id"], survivor)
        orgs = self.ok("person", "orgs", a)["orgs"]
        self.assertEqual([(o["id"], o["role"]) for o in orgs],
                         [(survivor, "admin")])
        self.fails(1, "%s is already merged" % loser, "org", "merge", loser,
                   survivor)
        self.fails(1, "organisation %s is merged into %s; update %s instead"
                   % (loser, survivor, survivor), "org", "update", loser,
                   "--expect-version", "2", "--city", "X")
        self.fails(1, "organisation %s is merged into %s" % (loser, survivor),
                   "org", "suspend", loser)
        self.fails(1, "no organisation nope", "org", "merge", "nope",
                   survivor)
        e = self.audit(action="org.merge")
        self.assertEqual(e[-1]["object"], "org:%s>%s" % (loser, survivor))

    # people and memberships ---------------------------------------------------
    def test_person(self):
        n = self.unique()
        email = "Person%d@Example.DE" % n
        doc = self.ok("person", "create", "--email", email, "--name",
                      "Paula Muster", "--password-env", "PW",
                      env={"PW": PASSWORD})
        p = doc["person"]
        pid = p["id"]
        self.assertEqual(p["email"], email.lower())
        self.assertEqual(p["password"], "set")
        self.assertEqual(p["totp"], "none")
        self.assertEqual(p["email_verified"], "0")
        self.assertNotIn("pwhash", p)
        self.assertNotIn("pwhash", json.dumps(doc))
        # from stdin
        doc = self.ok("person", "create", "--email",
                      "stdin%d@example.de" % n, "--password-stdin",
                      stdin=PASSWORD + "\n")
        self.assertEqual(doc["person"]["status"], "active")
        # show by email (any case) and by id
        self.assertEqual(self.ok("person", "show", email.upper())
                         ["person"]["id"], pid)
        self.assertEqual(self.ok("person", "show", pid)["person"]["email"],
                         email.lower())
        # audited
        self.assertEqual(self.audit(object="person:" + pid)[0]["action"],
                         "person.create")
        # refusals
        doc, _ = self.fails(1, "%s is already registered" % email.lower(),
                            "person", "create", "--email", email,
                            "--password-env", "PW", env={"PW": PASSWORD})
        self.assertEqual(doc["error"]["code"], "conflict")
        self.fails(2, "password rejected: ", "person", "create", "--email",
                   "weak%d@example.de" % n, "--password-env", "PW",
                   env={"PW": "short"})
        self.fails(2, "--password-env: the environment variable NOPE is not "
                   "set or empty", "person", "create", "--email",
                   "x%d@example.de" % n, "--password-env", "NOPE")
        self.fails(2, "give exactly one of --password-env VAR and "
                   "--password-stdin", "person", "create", "--email",
                   "x%d@example.de" % n, "--password-env", "PW",
                   "--password-stdin", env={"PW": PASSWORD})
        self.fails(2, "give exactly one of --password-env VAR", "person",
                   "create", "--email", "x%d@example.de" % n)
        self.fails(2, "--email: 'not-an-email' is not an email address",
                   "person", "create", "--email", "not-an-email",
                   "--password-env", "PW", env={"PW": PASSWORD})
        self.fails(2, "--email is required", "person", "create",
                   "--password-env", "PW", env={"PW": PASSWORD})
        self.fails(2, "--password-stdin: no password on standard input",
                   "person", "create", "--email", "y%d@example.de" % n,
                   "--password-stdin", stdin="")
        self.fails(1, "no person with email nobody@example.de", "person",
                   "show", "nobody@example.de")
        self.fails(1, "no person nobody", "person", "show", "nobody")
        self.fails(2, "person: 'a b' is not an identifier", "person", "show",
                   "a b")
        # disable / enable
        doc = self.ok("person", "disable", pid)
        self.assertEqual(doc["person"]["status"], "disabled")
        self.assertIn("disabled person %s and ended 0 session(s)" % pid,
                      doc["message"])
        self.assertIn("already disabled",
                      self.ok("person", "disable", email)["message"])
        self.assertEqual(self.ok("person", "enable", email)["person"]
                         ["status"], "active")
        actions = [x["action"] for x in self.audit(object="person:" + pid)]
        self.assertEqual(actions, ["person.create", "person.disable",
                                   "person.enable"])

    def test_dash_ids(self):
        """Ids that start with '-' work as operands and option values."""
        oid = "-" + "A" * 21
        self.gw.redis.cmd("HSET", "kt:org:{%s}" % oid, "id", oid,
                          "legal_name", "Dash GmbH", "status", "active",
                          "version", "1")
        pid = "-" + "B" * 21
        self.gw.redis.cmd("HSET", "kt:person:{%s}" % pid, "id", pid,
                          "email", "dash@example.de", "status", "active")
        self.gw.redis.cmd("SET", "kt:email:{dash@example.de}", pid)
        self.assertEqual(self.ok("org", "show", oid)["org"]["id"], oid)
        doc = self.ok("member", "add", oid, pid, "--role", "admin")
        self.assertEqual(doc["person"], pid)
        self.assertEqual(self.ok("member", "list", oid)["members"][0]
                         ["person"], pid)
        self.assertEqual(self.ok("session", "revoke", "--person", pid)
                         ["revoked"], 0)
        self.assertEqual(self.ok("org", "show", "--", oid)["org"]["id"], oid)

    def test_members(self):
        n = self.unique()
        anna = self.person("anna%d@example.de" % n, "Anna")
        bert = self.person("bert%d@example.de" % n, "Bert")
        oid = self.org("Zeta AG")
        doc = self.ok("member", "add", oid, "anna%d@example.de" % n,
                      "--role", "admin")
        self.assertEqual((doc["org"], doc["person"], doc["role"],
                          doc["granted_by"]),
                         (oid, anna, "admin", "admin:tester"))
        self.ok("member", "add", oid, bert, "--role", "representative",
                "--actor", "admin:jana")
        doc, _ = self.fails(1, "person %s is already a member of %s (admin)"
                            % (anna, oid), "member", "add", oid, anna,
                            "--role", "member")
        self.assertEqual(doc["error"]["code"], "conflict")
        self.fails(1, "the last admin of an organisation cannot be demoted",
                   "member", "role", oid, anna, "member")
        self.fails(1, "the last admin of an organisation cannot be removed",
                   "member", "remove", oid, anna)
        self.ok("member", "role", oid, bert, "admin")
        self.ok("member", "role", oid, anna, "member")
        doc = self.ok("member", "list", oid)
        self.assertEqual([(m["person"], m["role"]) for m in doc["members"]],
                         [(anna, "member"), (bert, "admin")])
        orgs = self.ok("person", "orgs", bert)["orgs"]
        self.assertEqual([(o["id"], o["role"]) for o in orgs],
                         [(oid, "admin")])
        doc = self.ok("member", "remove", oid, anna)
        self.assertEqual(doc["removed"], anna)
        self.fails(1, "person %s is not a member of %s" % (anna, oid),
                   "member", "remove", oid, anna)
        self.fails(1, "person %s is not a member of %s" % (anna, oid),
                   "member", "role", oid, anna, "admin")
        self.assertEqual(self.ok("person", "orgs", anna)["orgs"], [])
        self.fails(2, "--role: 'owner' is not a role (admin, member or "
                   "representative)", "member", "add", oid, anna, "--role",
                   "owner")
        self.fails(2, "ROLE: 'boss' is not a role", "member", "role", oid,
                   anna, "boss")
        self.fails(2, "--role is required", "member", "add", oid, anna)
        self.fails(1, "no person with email ghost@example.de", "member",
                   "add", oid, "ghost@example.de", "--role", "member")
        self.fails(1, "no organisation nope", "member", "add", "nope", anna,
                   "--role", "member")
        self.fails(1, "no organisation nope", "member", "list", "nope")
        self.assertEqual(self.ok("member", "list", self.org("Empty AG"))
                         ["members"], [])
        e = self.audit(object="org:%s:person:%s" % (oid, bert))
        self.assertEqual([(x["action"], x["actor"]) for x in e],
                         [("member.add", "admin:jana"),
                          ("member.role", "admin:tester")])
        # text output
        rc, _, out, _ = self.run_admin("member", "list", oid, json_out=False)
        self.assertIn("bert%d@example.de" % n, out)

    # clients ------------------------------------------------------------------
    def test_clients(self):
        doc = self.ok("client", "register", "--name", "Gewerbeportal",
                      "--redirect-uri", CB, "--grant-type",
                      "client_credentials", "--scope", "orders:read")
        c = doc["client"]
        cid, secret = c["client_id"], c["client_secret"]
        self.assertEqual(doc["source"], "registered")
        self.assertIn("shown only now", doc["message"])
        self.assertNotIn("client_secret_hmac", c)
        # the gateway knows it at once and the secret works
        r = self.gw.token({"grant_type": "client_credentials",
                           "scope": "orders:read"}, auth=(cid, secret))
        self.assertEqual(r.status_code, 200, r.text)
        # stored as an HMAC only
        stored = self.gw.redis.cmd("GET", "kt:client:{%s}" % cid)
        self.assertNotIn(secret, stored)
        self.assertIn("client_secret_hmac", stored)
        # show and list: no secret
        doc = self.ok("client", "show", cid)
        self.assertEqual(doc["client"]["client_secret"], "<redacted>")
        self.assertEqual(doc["client"]["client_name"], "Gewerbeportal")
        doc = self.ok("client", "show", "portal")
        self.assertEqual(doc["source"], "config")
        self.assertNotIn(SECRET, json.dumps(doc))
        doc = self.ok("client", "list")
        ids = {x["client_id"]: x["source"] for x in doc["clients"]}
        self.assertEqual(ids["portal"], "config")
        self.assertEqual(ids[cid], "registered")
        self.assertNotIn(secret, json.dumps(doc))
        # without the configuration only registered clients are known
        doc = self.ok("client", "list", config=False,
                      env={"KONTOR_REDIS_URL": self.gw.redis.url})
        self.assertNotIn("portal", [x["client_id"] for x in doc["clients"]])
        # rotate: the old secret stops working, the new one works
        doc = self.ok("client", "rotate-secret", cid)
        new = doc["client_secret"]
        self.assertNotEqual(new, secret)
        r = self.gw.token({"grant_type": "client_credentials"},
                          auth=(cid, secret))
        self.assertEqual(r.status_code, 401)
        r = self.gw.token({"grant_type": "client_credentials"},
                          auth=(cid, new))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual([x["action"] for x in
                          self.audit(object="client:" + cid)],
                         ["client.register", "client.rotate_secret"])
        # refusals
        self.fails(1, "client portal is defined in the configuration file",
                   "client", "rotate-secret", "portal")
        pub = self.ok("client", "register", "--name", "SPA",
                      "--redirect-uri", CB, "--auth-method", "none")
        self.assertNotIn("client_secret", pub["client"])
        self.fails(1, "authenticates with none and has no secret", "client",
                   "rotate-secret", pub["client"]["client_id"])
        self.fails(1, "no client nope", "client", "rotate-secret", "nope")
        self.fails(1, "no client nope", "client", "show", "nope")
        self.fails(2, "client metadata: redirect_uris[0]: ", "client",
                   "register", "--name", "X", "--redirect-uri",
                   "ftp://evil.example/cb")
        self.fails(2, "--auth-method: 'magic' is not one of", "client",
                   "register", "--name", "X", "--redirect-uri", CB,
                   "--auth-method", "magic")
        self.fails(2, "--name is required", "client", "register",
                   "--redirect-uri", CB)
        self.fails(2, "--config FILE is required: client secrets are hashed "
                   "with the key in its keys.dir", "client", "register",
                   "--name", "X", "--redirect-uri", CB, config=False,
                   env={"KONTOR_REDIS_URL": self.gw.redis.url})
        self.fails(2, "client id: 'a b' is not an identifier", "client",
                   "show", "a b")

    # sessions -----------------------------------------------------------------
    def login(self, email):
        b = Browser(self.gw)
        p = b.login_flow("portal", CB, email, PASSWORD)
        self.assertIn("code", p)
        return b

    def logged_in(self, b):
        r = b.authorize("portal", CB)
        return r.status_code == 303

    def test_sessions(self):
        n = self.unique()
        email = "sso%d@example.de" % n
        pid = self.person(email)
        b1 = self.login(email)
        b2 = self.login(email)
        doc = self.ok("session", "list", email)
        self.assertEqual(doc["person"], pid)
        sessions = doc["sessions"]
        self.assertEqual(len(sessions), 2)
        for s in sessions:
            self.assertEqual(s["person"], pid)
            self.assertEqual(s["amr"], "pwd")
        rc, _, out, _ = self.run_admin("session", "list", email,
                                       json_out=False)
        self.assertIn(sessions[0]["sid"], out)
        # the session ids are hashes: no browser cookie value among them
        cookies = [c.value for c in b1.s.cookies] + [c.value for c in
                                                     b2.s.cookies]
        for s in sessions:
            self.assertNotIn(s["sid"], cookies)
        # end one: that browser must log in again, the other not
        doc = self.ok("session", "revoke", sessions[0]["sid"])
        self.assertEqual(doc["person"], pid)
        self.assertEqual([self.logged_in(b1), self.logged_in(b2)].count(True),
                         1)
        self.fails(1, "no session " + sessions[0]["sid"], "session",
                   "revoke", sessions[0]["sid"])
        # end all
        doc = self.ok("session", "revoke", "--person", email)
        self.assertEqual(doc["revoked"], 1)
        self.assertFalse(self.logged_in(b1))
        self.assertFalse(self.logged_in(b2))
        self.assertEqual(self.ok("session", "list", pid)["sessions"], [])
        # disabling a person ends their sessions too
        b3 = self.login(email)
        doc = self.ok("person", "disable", email)
        self.assertIn("ended 1 session(s)", doc["message"])
        self.assertFalse(self.logged_in(b3))
        self.ok("person", "enable", email)
        actions = [x["action"] for x in self.audit(object="session:")]
        self.assertIn("session.revoke", actions)
        self.assertIn("session.revoke_all",
                      [x["action"] for x in self.audit(object="person:" + pid)])
        self.fails(2, "give either a SID or --person PERSON", "session",
                   "revoke")
        self.fails(2, "give either a SID or --person PERSON", "session",
                   "revoke", "abc", "--person", email)
        self.fails(2, "SID: 'a{b' is not an identifier", "session", "revoke",
                   "a{b")
        self.fails(1, "no person with email ghost@example.de", "session",
                   "list", "ghost@example.de")

    # audit --------------------------------------------------------------------
    def test_audit(self):
        oid = self.org("Audit GmbH")
        self.ok("org", "suspend", oid, "--actor", "admin:audit-test")
        self.ok("org", "activate", oid)
        doc = self.ok("audit", "tail", "-n", "2")
        self.assertEqual(len(doc["entries"]), 2)
        self.assertEqual(doc["entries"][-1]["action"], "org.activate")
        self.assertFalse(doc["filtered"])
        for e in doc["entries"]:
            self.assertEqual(set(e), {"id", "time", "actor", "action",
                                      "object", "before", "after"})
            self.assertEqual(len(e["before"]), 40)
            self.assertNotEqual(e["before"], e["after"])
        e = self.ok("audit", "tail", "--actor", "admin:audit-test")["entries"]
        self.assertEqual([(x["action"], x["object"]) for x in e],
                         [("org.suspend", "org:" + oid)])
        e = self.ok("audit", "tail", "--action", "org.activate",
                    "--object", "org:" + oid)["entries"]
        self.assertEqual(len(e), 1)
        doc = self.ok("audit", "tail", "--action", "no.such.action")
        self.assertEqual(doc["entries"], [])
        self.assertTrue(doc["filtered"])
        rc, _, out, _ = self.run_admin("audit", "tail", "-n", "1",
                                       json_out=False)
        self.assertIn("org.activate", out)
        self.fails(2, "-n: '0' is not a number from 1 to 4000", "audit",
                   "tail", "-n", "0")
        self.fails(2, "-n: 'ten' is not a number from 1 to 4000", "audit",
                   "tail", "-n", "ten")
        self.fails(2, "-n: '4001' is not a number from 1 to 4000", "audit",
                   "tail", "-n", "4001")

    def test_audit_follow(self):
        p = subprocess.Popen([ADMIN, "--config", self.gw.config_path,
                              "--json", "audit", "tail", "-n", "1",
                              "--action", "org.create", "--follow"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            time.sleep(0.5)
            oid = self.org("Follow GmbH")
            seen = None
            deadline = time.time() + 10
            while time.time() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                e = json.loads(line)        # JSON Lines
                if e["object"] == "org:" + oid:
                    seen = e
                    break
            self.assertIsNotNone(seen)
            self.assertEqual(seen["action"], "org.create")
        finally:
            p.send_signal(signal.SIGINT)
            rc = p.wait(10)
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
