"""Operations: /healthz and /metrics, Redis outages, SIGHUP reload of
clients and keys, key rotation without downtime, SIGTERM drain, the
command-line interface."""

import json
import os
import signal
import subprocess
import threading
import time
import unittest

import requests

from harness import (IDP, Browser, DEMO_PASSWORD, Gateway, jwt_parts, run,
                     wait_for)

SECRET = "portal-secret-0123456789-0123456789-xyz"
CB = "http://127.0.0.1:9/cb"
EMAIL = "emil@example.com"
CLIENT = {"client_id": "portal", "client_secret": SECRET,
          "redirect_uris": [CB], "skip_consent": True,
          "grant_types": ["authorization_code", "refresh_token",
                          "client_credentials"]}


def cc_token(gw, client="portal"):
    return gw.token({"grant_type": "client_credentials"},
                    auth=(client, SECRET))


class Ops(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway([CLIENT], people=[{"email": EMAIL}], threads=2)

    def tearDown(self):
        self.gw.close()

    def test_health_and_metrics(self):
        r = requests.get(self.gw.url + "/healthz")
        self.assertEqual(r.json(), {"status": "ok", "redis": "ok"})
        cc_token(self.gw)
        m = requests.get(self.gw.url + "/metrics")
        self.assertEqual(m.status_code, 200)
        self.assertTrue(m.headers["Content-Type"].startswith("text/plain"))
        self.assertRegex(m.text, r'kontor_http_requests_total\{endpoint='
                                 r'"token",code="2xx"\} [1-9]')
        self.assertIn("# TYPE kontor_http_request_duration_seconds histogram",
                      m.text)
        self.assertIn("kontor_redis_up 1", m.text)

    def test_redis_down_and_back(self):
        self.gw.redis.stop()
        time.sleep(0.3)
        r = requests.get(self.gw.url + "/healthz")
        self.assertEqual(r.status_code, 503)
        r = cc_token(self.gw)  # needs no Redis: still served
        self.assertEqual(r.status_code, 200)
        b = Browser(self.gw)
        r = b.authorize("portal", CB)
        self.assertEqual(r.status_code, 503)
        self.assertIn("Retry-After", r.headers)
        # discovery and JWKS need no Redis
        self.assertEqual(requests.get(self.gw.url + "/jwks").status_code,
                         200)
        # Redis comes back on the same port: the gateway reconnects
        self.gw.redis.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.gw.redis.port), "--bind",
             "127.0.0.1", "--dir", self.gw.redis.dir, "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: requests.get(self.gw.url + "/healthz").status_code
                 == 200, timeout=10, what="reconnect")
        self.assertIsNone(self.gw.proc.poll())

    def test_sighup_reloads_clients_and_bad_config_keeps_running(self):
        new = dict(CLIENT, client_id="late-client")
        self.assertEqual(cc_token(self.gw, "late-client").status_code, 401)
        self.gw.config["clients"].append(new)
        self.gw.write_config()
        self.gw.signal(signal.SIGHUP)
        wait_for(lambda: cc_token(self.gw, "late-client").status_code == 200,
                 what="reload")
        # a broken config is refused and the old one keeps serving
        with open(self.gw.config_path, "w") as f:
            f.write('{"issuer": 5}')
        self.gw.signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(self.gw.proc.poll())
        self.assertEqual(cc_token(self.gw, "late-client").status_code, 200)
        self.assertIn("reload failed", self.gw.logs())

    def test_key_rotation_without_downtime(self):
        jwks0 = requests.get(self.gw.url + "/jwks").json()
        kids0 = {k["kid"] for k in jwks0["keys"]}
        old = cc_token(self.gw).json()["access_token"]
        old_kid = jwt_parts(old)[0]["kid"]
        self.assertIn(old_kid, kids0)
        run([IDP, "keys", "rotate", "--dir", self.gw.keys])
        self.gw.signal(signal.SIGHUP)
        wait_for(lambda: {k["kid"] for k in requests.get(
            self.gw.url + "/jwks").json()["keys"]} != kids0, what="rotation")
        new = cc_token(self.gw).json()["access_token"]
        new_kid = jwt_parts(new)[0]["kid"]
        self.assertNotEqual(new_kid, old_kid)
        # the next key was published before it signed anything
        self.assertIn(new_kid, kids0)
        kids1 = {k["kid"] for k in requests.get(
            self.gw.url + "/jwks").json()["keys"]}
        self.assertIn(old_kid, kids1)  # retired, still published
        r = requests.post(self.gw.url + "/introspect", data={"token": old},
                          auth=("portal", SECRET))
        self.assertTrue(r.json()["active"])

    def test_second_instance_on_the_port_refuses_to_start(self):
        # the loops share the port with SO_REUSEPORT; a second gateway must
        # not quietly join it and take part of the traffic
        p = subprocess.run([IDP, "--config", self.gw.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("127.0.0.1:%d: the port is in use" % self.gw.port,
                      p.stderr)
        # the first one still answers
        self.assertEqual(requests.get(self.gw.url + "/healthz").status_code,
                         200)

    def test_sigterm_drains_and_exits_cleanly(self):
        b = Browser(self.gw)
        b.login_flow("portal", CB, EMAIL, DEMO_PASSWORD)
        results = []

        def hammer():
            for _ in range(50):
                try:
                    results.append(cc_token(self.gw).status_code)
                except requests.RequestException:
                    results.append("closed")
        t = threading.Thread(target=hammer)
        t.start()
        time.sleep(0.05)
        self.gw.signal(signal.SIGTERM)
        t.join()
        self.assertEqual(self.gw.proc.wait(15), 0)
        # every request that got an answer got a correct one
        self.assertTrue(all(s in (200, "closed") for s in results), results)
        self.assertIn('"msg":"stopped"', self.gw.logs())


class ConnectionLimit(unittest.TestCase):
    def test_connections_beyond_the_limit_wait_and_nothing_spins(self):
        import socket
        gw = Gateway([CLIENT], threads=1,
                     config={"limits": {"max_connections": 16}})
        try:
            socks = []
            for _ in range(120):
                s = socket.create_connection(("127.0.0.1", gw.port), 2)
                socks.append(s)
            time.sleep(0.5)
            # at the limit the gateway pauses accepting instead of spinning
            with open("/proc/%d/stat" % gw.proc.pid) as f:
                before = sum(int(x) for x in f.read().split()[13:15])
            time.sleep(1.0)
            with open("/proc/%d/stat" % gw.proc.pid) as f:
                after = sum(int(x) for x in f.read().split()[13:15])
            self.assertLess(after - before, 50)  # < 0.5 s CPU in 1 s
            self.assertIn("pausing", gw.logs())  # the limit was reached
            for s in socks:
                s.close()
            wait_for(lambda: requests.get(gw.url + "/healthz",
                                          timeout=2).status_code == 200,
                     what="service after the flood")
            self.assertIsNone(gw.proc.poll())
        finally:
            gw.close()


class Cli(unittest.TestCase):
    def test_version_help_and_check_config(self):
        out = run([IDP, "--version"])
        self.assertTrue(out.startswith("kontor-idp "))
        out = run([IDP, "--help"])
        for word in ("SYNOPSIS", "--check-config", "SIGHUP", "EXIT STATUS"):
            self.assertIn(word, out)
        p = subprocess.run([IDP, "--bogus"], capture_output=True)
        self.assertEqual(p.returncode, 2)

    def test_bad_config_names_the_path(self):
        gw = Gateway([CLIENT], redis=False)
        try:
            cfg = json.loads(json.dumps(gw.config))
            cfg["clients"].append({"client_id": "x", "client_secret": SECRET,
                                   "redirect_uris": ["http://evil.example/"]})
            path = os.path.join(gw.tmp, "bad.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            p = subprocess.run([IDP, "--check-config", "--config", path],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 1)
            self.assertIn("config: .clients[1].redirect_uris[0]: ", p.stderr)
            p = subprocess.run([IDP, "--check-config", "--config",
                                gw.config_path], capture_output=True,
                               text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = subprocess.run([IDP, "--dump-config", "--config",
                                gw.config_path], capture_output=True,
                               text=True)
            self.assertNotIn(SECRET, p.stdout)
            self.assertIn("<redacted>", p.stdout)
        finally:
            gw.close()


if __name__ == "__main__":
    unittest.main()
