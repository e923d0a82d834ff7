"""Test harness: a real redis-server and a real kontor-idp on spare ports.

Every integration test module builds a Gateway, which
  - starts redis-server in a fresh temp dir (no persistence, loopback),
  - generates signing keys with `kontor-idp keys generate`,
  - writes a gateway config with the clients the test asks for,
  - seeds people with `kontor-idp user add`,
  - starts kontor-idp and waits for /healthz,
and offers a Browser that follows the gateway's HTML forms like a user.
"""

import base64
import hashlib
import html.parser
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import warnings

import requests

BUILD = os.environ.get("KONTOR_BUILD_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
IDP = os.path.join(BUILD, "kontor-idp")
DEMO_PASSWORD = "correct horse battery staple"

# requests' pooled connections are closed at exit; the warnings are noise.
warnings.simplefilter("ignore", ResourceWarning)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise TimeoutError("timed out waiting for " + what)


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def b64url_json(part):
    part += "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(part))


def jwt_parts(token):
    h, p, _ = token.split(".")
    return b64url_json(h), b64url_json(p)


class Redis:
    def __init__(self, tmp):
        self.port = free_port()
        self.dir = os.path.join(tmp, "redis")
        os.makedirs(self.dir)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, what="redis")

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def cmd(self, *args):
        """Minimal RESP client, enough to inspect state in tests."""
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            return self._read(f)

    def _read(self, f):
        line = f.readline().rstrip(b"\r\n")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read(f) for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def ping(self):
        return self.cmd("PING") == "PONG"

    def keys(self, pattern="*"):
        return self.cmd("KEYS", pattern)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Form(html.parser.HTMLParser):
    """Collects <form>s with their inputs and buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._cur = {"action": a.get("action", ""),
                         "method": a.get("method", "get").lower(),
                         "fields": {}, "buttons": []}
            self.forms.append(self._cur)
        elif self._cur is not None and tag == "input":
            if a.get("type") in ("submit", "button"):
                self._cur["buttons"].append((a.get("name"), a.get("value")))
            elif a.get("name"):
                self._cur["fields"][a["name"]] = a.get("value") or ""
        elif self._cur is not None and tag == "button":
            self._cur["buttons"].append((a.get("name"), a.get("value")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None


def parse_forms(text):
    p = Form()
    p.feed(text)
    return p.forms


class Browser:
    """A requests session that goes through the gateway's pages."""

    def __init__(self, gw):
        self.gw = gw
        self.s = requests.Session()

    def get(self, url, **kw):
        kw.setdefault("allow_redirects", False)
        return self.s.get(url, **kw)

    def post(self, url, **kw):
        kw.setdefault("allow_redirects", False)
        return self.s.post(url, **kw)

    def submit(self, page, data, button=None, form_index=0):
        forms = parse_forms(page.text)
        assert forms, "no form on page: %s" % page.text[:500]
        f = forms[form_index]
        fields = dict(f["fields"])
        fields.update(data)
        if button:
            fields[button[0]] = button[1]
        action = urllib.parse.urljoin(page.url, f["action"])
        return self.post(action, data=fields)

    def authorize(self, client_id, redirect_uri, scope="openid profile email",
                  extra=None, pkce=True):
        self.state = secrets.token_urlsafe(12)
        self.nonce = secrets.token_urlsafe(12)
        self.verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": client_id,
                  "redirect_uri": redirect_uri, "scope": scope,
                  "state": self.state, "nonce": self.nonce}
        if pkce:
            params.update(code_challenge=challenge,
                          code_challenge_method="S256")
        if extra:
            params.update(extra)
        params = {k: v for k, v in params.items() if v is not None}
        return self.get(self.gw.url + "/authorize", params=params)

    def login(self, page, email, password):
        return self.submit(page, {"email": email, "password": password},
                           button=("action", "login"))

    @staticmethod
    def callback_params(resp):
        """Parameters the gateway sent to the client's redirect_uri."""
        assert resp.status_code in (302, 303), (resp.status_code,
                                                resp.text[:500])
        loc = resp.headers["Location"]
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))

    def login_flow(self, client_id, redirect_uri, email, password,
                   scope="openid profile email", extra=None):
        """Authorization request → login → (consent) → code params."""
        r = self.authorize(client_id, redirect_uri, scope, extra)
        if r.status_code == 200 and 'name="password"' in r.text:
            r = self.login(r, email, password)
        if r.status_code == 200 and 'value="allow"' in r.text:
            r = self.submit(r, {}, button=("decision", "allow"))
        return self.callback_params(r)


class Gateway:
    def __init__(self, clients, people=None, config=None, threads=1,
                 redis=True, port=None):
        self.tmp = tempfile.mkdtemp(prefix="kontor-test-")
        self.redis = Redis(self.tmp) if redis else None
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.keys = os.path.join(self.tmp, "keys")
        self.log_path = os.path.join(self.tmp, "idp.log")
        self.proc = None
        run([IDP, "keys", "generate", "--dir", self.keys])
        cfg = {
            "issuer": self.url,
            "listen": {"address": "127.0.0.1", "port": self.port},
            "threads": threads,
            "worker_threads": 2,
            "redis": {"url": self.redis.url if self.redis
                      else "redis://127.0.0.1:1/0"},
            "keys": {"dir": self.keys},
            # fast hashes keep the suite quick; production uses defaults
            "password": {"scrypt_log_n": 10, "scrypt_r": 8, "scrypt_p": 1},
            "dev": {"allow_http_loopback": True},
            "registration": {"enabled": True,
                             "initial_access_tokens": ["test-registration-token"]},
            "log": {"level": "info"},
            "clients": clients,
        }
        for k, v in (config or {}).items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        self.config = self._fill(cfg)
        self.config_path = os.path.join(self.tmp, "kontor.json")
        self.write_config()
        for person in people or []:
            self.add_person(**person)
        self.start()

    def _fill(self, v):
        """'{tmp}' in a config string stands for this gateway's temp dir."""
        if isinstance(v, dict):
            return {k: self._fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self._fill(x) for x in v]
        if isinstance(v, str):
            return v.replace("{tmp}", self.tmp)
        return v

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def add_person(self, email, password=DEMO_PASSWORD, name="", verified=True):
        env = dict(os.environ, KT_PW=password)
        args = [IDP, "user", "add", "--config", self.config_path,
                "--email", email, "--name", name, "--password-env", "KT_PW"]
        if verified:
            args.append("--verified")
        run(args, env=env)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([IDP, "--config", self.config_path],
                                     stdout=self.log, stderr=self.log)
        if self.redis:
            wait_for(lambda: requests.get(self.url + "/healthz",
                                          timeout=1).status_code == 200,
                     what="gateway /healthz")
        else:
            wait_for(lambda: requests.get(self.url + "/jwks",
                                          timeout=1).status_code == 200,
                     what="gateway")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM, then insist on a clean exit: a sanitizer report, a
        leak or a crash anywhere in the gateway fails the test module."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "hung on SIGTERM"
        elif self.proc:
            rc = self.proc.returncode
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        if self.redis:
            self.redis.stop()
        self.exit_status = rc

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        self.stop()
        logs = self.logs()
        shutil.rmtree(self.tmp, ignore_errors=True)
        bad = ("Sanitizer", "runtime error:")
        if self.exit_status not in (0, None) or any(b in logs for b in bad):
            raise AssertionError("kontor-idp did not exit cleanly (%s):\n%s"
                                 % (self.exit_status, logs[-4000:]))

    def admin(self, *args, check=True):
        """kontor-admin against this gateway's Redis, JSON output."""
        p = subprocess.run([os.path.join(BUILD, "kontor-admin"), "--config",
                            self.config_path, "--json", "--actor", "test"] +
                           list(args), capture_output=True, text=True,
                           timeout=30)
        if check and p.returncode != 0:
            raise AssertionError("kontor-admin %s: %d %s %s" % (
                args, p.returncode, p.stdout, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def discovery(self):
        return requests.get(self.url + "/.well-known/openid-configuration",
                            timeout=5).json()

    def token(self, data, auth=None, **kw):
        return requests.post(self.url + "/token", data=data, auth=auth,
                             timeout=10, **kw)


def run(args, env=None):
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (
            " ".join(args[:3]), p.returncode, p.stdout.decode(),
            p.stderr.decode()))
    return p.stdout.decode()
