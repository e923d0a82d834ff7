"""kontor-migrate match, explain and eval on the fixture in
tests/data/match (400 synthetic company records with ground truth, made by
`bench_match generate 400 ... 17`): outputs, determinism, explain sums,
the evaluation, and the exact errors for bad input."""

import csv
import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KONTOR_SOURCE_DIR") or os.path.join(HERE, "..", "..")
BUILD = os.environ.get("KONTOR_BUILD_DIR") or os.path.join(SOURCE, "build")
MIGRATE = os.path.join(BUILD, "kontor-migrate")
PROFILE = os.path.join(SOURCE, "docs", "profiles", "company.json")
DATA = os.path.join(SOURCE, "tests", "data", "match")
RECORDS = os.path.join(DATA, "records.tsv")
TRUTH = os.path.join(DATA, "truth.csv")


def migrate(*args):
    return subprocess.run([MIGRATE, *args], capture_output=True, text=True,
                          timeout=120)


class MatchCommands(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kt-match-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def match(self, *extra, records=RECORDS):
        r = migrate("match", "--profile", PROFILE, "--in", records,
                    "--out", self.path("pairs.csv"),
                    "--clusters", self.path("clusters.csv"),
                    "--truth", TRUTH, "--json", *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def read(self, name):
        with open(self.path(name), encoding="utf-8") as f:
            return f.read()

    def test_match_outputs(self):
        s = self.match("--model-out", self.path("model.json"))
        self.assertEqual(s["records"], 400)
        self.assertEqual(s["profile"], "company")
        b = s["blocking"]
        self.assertEqual([p["name"] for p in b["passes"]],
                         ["identifiers", "address", "postcode_name_token",
                          "phonetic_name", "name_neighbourhood",
                          "name_neighbourhood_rev"])
        self.assertEqual(sum(p["new"] for p in b["passes"]),
                         b["candidate_pairs"])
        self.assertGreaterEqual(b["completeness"], 0.99)
        for p in b["passes"]:
            self.assertLessEqual(p["new"], p["produced"])
            self.assertLessEqual(p["completeness"], b["completeness"])
        self.assertGreaterEqual(s["eval"]["f1"], 0.95)
        self.assertEqual(s["clusters"]["conflicting"], 0)
        self.assertTrue(s["em"]["converged"])
        # clusters.csv: every record once, each cluster named by a member.
        rows = list(csv.reader(self.read("clusters.csv").splitlines()))
        self.assertEqual(rows[0], ["id", "cluster"])
        self.assertEqual(len(rows), 401)
        ids = {r[0] for r in rows[1:]}
        self.assertEqual(len(ids), 400)
        self.assertTrue(all(r[1] in ids for r in rows[1:]))
        self.assertEqual(len({r[1] for r in rows[1:]}),
                         s["clusters"]["count"])
        # pairs.csv: merge, cut and review pairs, strongest first.
        pairs = list(csv.DictReader(self.read("pairs.csv").splitlines()))
        d = s["decisions"]
        self.assertEqual(len(pairs), d["merge"] + d["cut"] + d["review"])
        weights = [float(p["weight"]) for p in pairs]
        self.assertEqual(weights, sorted(weights, reverse=True))
        for p in pairs:
            self.assertIn(p["decision"], ("merge", "cut", "review"))
            if p["decision"] == "merge":
                self.assertGreaterEqual(float(p["weight"]),
                                        s["thresholds"]["auto_merge"])
            if p["decision"] == "cut":
                self.assertTrue(p["note"].startswith("cannot-link "))
        model = json.loads(self.read("model.json"))
        self.assertEqual(model["profile"], "company")
        self.assertEqual(model["groups"][0]["name"], "address")

    def test_all_pairs_text_and_determinism(self):
        s = self.match("--all-pairs", "--threads", "1")
        one = (self.read("pairs.csv"), self.read("clusters.csv"))
        self.assertEqual(one[0].count("\n") - 1,
                         s["blocking"]["candidate_pairs"])
        self.match("--all-pairs", "--threads", "2")
        self.assertEqual((self.read("pairs.csv"),
                          self.read("clusters.csv")), one)
        r = migrate("match", "--profile", PROFILE, "--in", RECORDS,
                    "--truth", TRUTH)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("blocking:", r.stdout)
        self.assertIn("eval: precision", r.stdout)
        self.assertIn("peak RSS", r.stdout)

    def test_jsonl_input_same_result(self):
        jl = self.path("records.jsonl")
        with open(RECORDS, encoding="utf-8") as f, \
                open(jl, "w", encoding="utf-8") as out:
            header = f.readline().rstrip("\n").split("\t")
            for line in f:
                row = dict(zip(header, line.rstrip("\n").split("\t")))
                obj = {}
                for k, v in row.items():
                    if k.endswith(".valid"):
                        obj[k] = None if v == "" else v == "1"
                    else:
                        obj[k] = v
                out.write(json.dumps(obj) + "\n")
        self.match()
        tsv = self.read("clusters.csv")
        self.match(records=jl)
        self.assertEqual(self.read("clusters.csv"), tsv)

    def explain(self, a, b, *extra):
        r = migrate("explain", "--profile", PROFILE, "--in", RECORDS,
                    "--json", *extra, a, b)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_explain(self):
        self.match("--model-out", self.path("model.json"))
        pairs = list(csv.DictReader(self.read("pairs.csv").splitlines()))
        for p in pairs[:3] + pairs[-3:]:
            e = self.explain(p["id_a"], p["id_b"])
            total = e["prior"] + sum(f["weight"] for f in e["fields"]) + \
                sum(g["weight"] for g in e["groups"])
            self.assertAlmostEqual(total, e["weight"], places=9)
            self.assertAlmostEqual(e["weight"], float(p["weight"]), places=3)
            self.assertEqual(e["decision"], p["decision"])
            self.assertTrue(e["candidate"])
            # The saved model explains the same way.
            m = self.explain(p["id_a"], p["id_b"], "--model",
                             self.path("model.json"))
            self.assertAlmostEqual(m["weight"], e["weight"], places=6)
        r = migrate("explain", "--profile", PROFILE, "--in", RECORDS,
                    pairs[0]["id_a"], pairs[0]["id_b"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[address]", r.stdout)
        self.assertIn("total", r.stdout)
        self.assertIn("decision: ", r.stdout)

    def test_eval(self):
        s = self.match()
        r = migrate("eval", "--truth", TRUTH, "--clusters",
                    self.path("clusters.csv"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        e = json.loads(r.stdout)
        for k in ("precision", "recall", "f1"):
            self.assertAlmostEqual(e[k], s["eval"][k], places=6)
        self.assertEqual(e["false_merges"], s["eval"]["false_merges"])
        self.assertEqual(e["only_in_truth"], 0)
        r = migrate("eval", "--truth", TRUTH, "--clusters", TRUTH)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("precision 1.0000  recall 1.0000  F1 1.0000",
                      r.stdout)

    def test_errors(self):
        bad = self.path("bad.json")
        with open(PROFILE, encoding="utf-8") as f:
            prof = json.load(f)
        prof["fields"][2]["comparison"] = "foo"
        with open(bad, "w", encoding="utf-8") as f:
            json.dump(prof, f)
        r = migrate("match", "--profile", bad, "--in", RECORDS)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "kontor-migrate match: profile: "
                         ".fields[2].comparison: unknown comparison 'foo'")
        tsv = self.path("bad.tsv")
        with open(RECORDS, encoding="utf-8") as f:
            lines = f.read().splitlines()
        lines[3] = lines[3] + "\textra"
        with open(tsv, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        r = migrate("match", "--profile", PROFILE, "--in", tsv)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "kontor-migrate match: %s:4: more "
                         "than the header's 21 columns" % tsv)
        r = migrate("explain", "--profile", PROFILE, "--in", RECORDS,
                    "r00000001", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "kontor-migrate explain: no record "
                         "'nope' in %s" % RECORDS)
        r = migrate("eval", "--truth", TRUTH, "--clusters", self.path("none"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file or directory", r.stderr)
        for args in (["match"], ["match", "--in", RECORDS],
                     ["explain", "--profile", PROFILE, "--in", RECORDS, "a"],
                     ["eval", "--truth", TRUTH], ["match", "--bogus"],
                     ["match", "--profile", PROFILE, "--in", RECORDS,
                      "--threads", "x"]):
            r = migrate(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("Usage: kontor-migrate", r.stderr)
        r = migrate("match", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--profile", r.stdout)


if __name__ == "__main__":
    unittest.main()
