"""kontor-migrate import and generate, end to end with the real program.

- the fixtures in tests/data/migrate are exactly what the generator writes
  for their seed (reproducible, and the fixtures are up to date);
- importing them gives the counts the manifest promises, every imported
  record is in the ground truth, every valid VAT id passes the check digit;
- a malformed file stops the run with the precise error and no output;
- usage errors and --help.
"""

import csv
import filecmp
import json
import os
import stat
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KONTOR_SOURCE_DIR") or os.path.abspath(
    os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("KONTOR_BUILD_DIR") or os.path.join(SOURCE, "build")
MIGRATE = os.path.join(BUILD, "kontor-migrate")
FIXTURES = os.path.join(SOURCE, "tests", "data", "migrate")
BAD = os.path.join(SOURCE, "tests", "data", "migrate-bad")
LANDS = "BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH".split()


def run(*args, check=True):
    p = subprocess.run([MIGRATE, *args], capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("kontor-migrate %s failed (%d): %s" %
                             (" ".join(args), p.returncode, p.stderr))
    return p


def manifest():
    with open(os.path.join(FIXTURES, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def import_args(m, directory=FIXTURES):
    args = []
    for land in LANDS:
        e = m["lands"][land]
        args += ["--mapping", os.path.join(directory, e["mapping"]),
                 os.path.join(directory, e["file"])]
    return args


def vat_check_digit(digits):
    """ISO/IEC 7064 MOD 11,10, as in the reference."""
    p = 10
    for d in digits:
        s = (int(d) + p) % 10 or 10
        p = (2 * s) % 11
    c = 11 - p
    return 0 if c == 10 else c


class TestGenerate(unittest.TestCase):
    def test_fixtures_are_reproducible(self):
        m = manifest()
        with tempfile.TemporaryDirectory() as d:
            run("generate", "--seed", str(m["seed"]), "--records",
                str(m["records"]), "--out", d, "--progress", "none")
            names = sorted(os.listdir(FIXTURES))
            self.assertEqual(sorted(os.listdir(d)), names)
            match, mismatch, errors = filecmp.cmpfiles(
                FIXTURES, d, names, shallow=False)
            self.assertEqual(mismatch + errors, [],
                             "fixtures differ from the generator output; "
                             "regenerate tests/data/migrate")

    def test_layouts_differ(self):
        m = manifest()
        encodings = {e["encoding"] for e in m["lands"].values()}
        formats = {e["format"] for e in m["lands"].values()}
        self.assertEqual(encodings, {"utf-8", "windows-1252", "iso-8859-1"})
        self.assertEqual(formats, {"csv", "jsonl"})
        delimiters, headers = set(), set()
        for land in LANDS:
            with open(os.path.join(FIXTURES, m["lands"][land]["mapping"]),
                      encoding="utf-8") as f:
                mp = json.load(f)
            self.assertEqual(mp["land"], land)
            delimiters.add(mp.get("delimiter"))
            headers.add(tuple(c.get("column", c.get("index"))
                              for c in mp["columns"]))
        self.assertTrue({";", ",", "\t", "|"} <= delimiters)
        self.assertEqual(len(headers), 16, "every Land has its own layout")

    def test_usage(self):
        p = run("generate", "--records", "10", "--out", "/tmp/x",
                check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--records: expected a number from 16 to 10000000, "
                      "got '10'", p.stderr)
        p = run("generate", "--bogus", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown argument '--bogus'", p.stderr)
        p = run("generate", "--help")
        self.assertIn("NAME\n    kontor-migrate generate", p.stdout)


class TestImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = manifest()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "records.jsonl")
        cls.rej = os.path.join(cls.tmp.name, "rejects.csv")
        p = run("import", *import_args(cls.m), "--out", cls.out,
                "--rejects", cls.rej, "--json", "--progress", "none")
        cls.summary = json.loads(p.stdout)
        with open(cls.out, encoding="utf-8") as f:
            cls.records = [json.loads(line) for line in f]
        with open(cls.rej, encoding="utf-8", newline="") as f:
            cls.rejects = list(csv.DictReader(f))
        with open(os.path.join(FIXTURES, "truth.csv"),
                  encoding="utf-8", newline="") as f:
            cls.truth = {r["record_id"]: r["entity_id"]
                         for r in csv.DictReader(f)}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_counts(self):
        s, m = self.summary, self.m
        self.assertEqual(s["rows"], m["records"])
        self.assertEqual(s["imported"], m["expected_imported"])
        self.assertEqual(s["rejected"], m["expected_rejects"])
        self.assertEqual(len(self.records), m["expected_imported"])
        self.assertEqual(len(self.rejects), m["expected_rejects"])
        for land in LANDS:
            self.assertEqual(s["lands"][land]["rejected"],
                             m["lands"][land]["expected_rejects"], land)
            self.assertEqual(s["lands"][land]["imported"] +
                             s["lands"][land]["rejected"],
                             m["lands"][land]["rows"], land)

    def test_rejects_say_where_and_why(self):
        reasons = set()
        for r in self.rejects:
            self.assertTrue(os.path.isfile(r["file"]), r)
            self.assertGreater(int(r["line"]), 1)
            self.assertTrue(r["field"] and r["reason"], r)
            reasons.add(r["reason"].split(" (")[0].split(",")[0])
        self.assertTrue({"missing account id", "missing company name",
                         "duplicate account id"} <= reasons, reasons)
        self.assertTrue(any(r.startswith("expected ") for r in reasons))

    def test_records_match_truth(self):
        ids = [r["id"] for r in self.records]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(set(ids), set(self.truth))

    def test_identifiers(self):
        valid = invalid = 0
        for r in self.records:
            vat = r.get("vat_id")
            if vat is None:
                continue
            if vat["valid"]:
                valid += 1
                n = vat["norm"]
                self.assertRegex(n, r"^DE[0-9]{9}$")
                self.assertEqual(vat_check_digit(n[2:10]), int(n[10]), n)
            else:
                invalid += 1
                self.assertTrue(any(i["field"] == "vat_id"
                                    for i in r["issues"]), r["id"])
        self.assertGreater(invalid, 0)
        self.assertGreater(valid, 10 * invalid)
        for r in self.records:
            t = r.get("tax_number")
            if t and t["valid"]:
                self.assertRegex(t["norm"], r"^[0-9]{13}$")
                self.assertEqual(t["norm"][4], "0")
            reg = r.get("register")
            if reg and reg["court_known"]:
                self.assertTrue(reg["court_id"])
            self.assertRegex(r["address"]["postcode"], r"^([0-9]{5})?$")

    def test_normalised_forms(self):
        by_entity = {}
        for r in self.records:
            by_entity.setdefault(self.truth[r["id"]], []).append(r)
        # duplicates of one company mostly share the folded name
        same = total = 0
        for recs in by_entity.values():
            if len(recs) > 1:
                total += 1
                same += len({r["name"]["key"] for r in recs}) == 1
        self.assertGreater(total, 50)
        self.assertGreater(same / total, 0.6)
        lfs = {r["legal_form"] for r in self.records}
        self.assertTrue({"GMBH", "GMBH_CO_KG", "UG", "EK", "EV", "AG",
                         "KG", "GBR"} <= lfs, lfs)
        self.assertTrue(any(r["address"]["postcode_restored"]
                            for r in self.records))

    def test_output_mode(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.out).st_mode), 0o600)


class TestMalformed(unittest.TestCase):
    def test_stops_before_writing(self):
        m = manifest()
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "records.jsonl")
            rej = os.path.join(d, "rejects.csv")
            broken = os.path.join(BAD, "by-broken.csv")
            args = import_args(m) + [
                "--mapping", os.path.join(FIXTURES, "by.mapping.json"),
                broken]
            p = run("import", *args, "--out", out, "--rejects", rej,
                    "--progress", "none", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(
                p.stderr.strip(),
                "kontor-migrate import: %s:5: unterminated quoted field" %
                broken)
            self.assertEqual(os.listdir(d), [])

    def test_wrong_encoding(self):
        m = manifest()
        e = m["lands"]["SN"]
        with tempfile.TemporaryDirectory() as d:
            p = run("import", "--mapping",
                    os.path.join(FIXTURES, e["mapping"]),
                    os.path.join(FIXTURES, e["file"]),
                    "--encoding", "utf-8",
                    "--out", os.path.join(d, "r.jsonl"),
                    "--rejects", os.path.join(d, "r.csv"),
                    "--progress", "none", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertRegex(p.stderr, r"sn\.csv:[0-9]+: invalid UTF-8 in "
                             r"field [0-9]+ \(is the file Windows-1252\? "
                             r"set the encoding\)")
            self.assertEqual(os.listdir(d), [])

    def test_usage(self):
        p = run("import", "--out", "x", "--rejects", "y", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--mapping is required", p.stderr)
        p = run("import", "a.csv", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("input file 'a.csv' before any --mapping", p.stderr)
        p = run("import", "--mapping", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--mapping needs a value", p.stderr)
        p = run("import", "--help")
        self.assertIn("NAME\n    kontor-migrate import", p.stdout)
        p = run("frobnicate", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)


if __name__ == "__main__":
    unittest.main()
