#!/usr/bin/env python3
"""kontor benchmark: the gateway against the machine's limits and a peer.

Run through bench/run.sh (which installs wrk and the peer and builds the
release build); see bench/README.md for what every row measures.

Servers (floor, redis-server + kontor-idp, the peer) run pinned to core 0
(`taskset -c 0`); this script, wrk and the login driver run on core 1.
Every row reports requests per second *and* requests per server
CPU-second (utime + stime from /proc/<pid>/stat, before and after the row,
of the gateway and its Redis together), because on a 2-core machine the
load generator's core saturates first and the machine may be shared.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SECRET = "bench-secret-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e"
EMAIL = "bench@example.com"
PASSWORD = "correct horse battery staple"
VERIFIER = "bench-verifier-0123456789abcdefghijklmnopqrstuvwxyz0123456789"
CHALLENGE = base64.urlsafe_b64encode(
    hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
REDIRECT = "http://127.0.0.1:9/cb"  # never contacted: the driver stops there
SCOPE = "openid profile email api"
BASIC = "Basic " + base64.b64encode(("bench:" + SECRET).encode()).decode()
UI_BASIC = "Basic " + base64.b64encode(("bench-ui:" + SECRET).encode()).decode()

SERVER_CPU = "0"
LOAD_CPU = "1"


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=30.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def http_req(port, method, path, body=None, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if body is not None:
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data.decode("utf-8", "replace")


# /proc --------------------------------------------------------------------

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rpartition(")")[2].split()
    # fields 14 and 15 of stat; rest starts at field 3
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def rss_mib(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE / 1048576.0


class RssSampler:
    """Samples a process's RSS every 100 ms while a row runs; keeps the max."""

    def __init__(self, pid):
        self.pid = pid
        self.max = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.max = max(self.max, rss_mib(self.pid))
            except OSError:
                pass
            self._stop.wait(0.1)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self._t.join()
        try:
            self.max = max(self.max, rss_mib(self.pid))
        except OSError:
            pass


# Processes ----------------------------------------------------------------

class Proc:
    """A server pinned to cpu. Its stdout and stderr go into a pipe, as
    under systemd-journald (a stream socket) or Docker (a pipe), not into
    a file it writes itself; the reader, as journald would be, runs on the
    load generator's core and appends to log_path."""

    def __init__(self, args, log_path, env=None, cpu=SERVER_CPU):
        self.log = open(log_path, "ab")
        self.sink = subprocess.Popen(["taskset", "-c", LOAD_CPU, "cat"],
                                     stdin=subprocess.PIPE, stdout=self.log)
        self.p = subprocess.Popen(["taskset", "-c", cpu] + args,
                                  stdout=self.sink.stdin,
                                  stderr=self.sink.stdin, env=env)
        self.sink.stdin.close()  # the server holds the only write end
        self.pid = self.p.pid  # taskset execs, so this is the server

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        try:  # EOF once the server (and anything it started) is gone
            self.sink.wait(10)
        except subprocess.TimeoutExpired:
            self.sink.kill()
            self.sink.wait()
        self.log.close()
        # a crash or a sanitizer report makes the row figures suspect
        with open(self.log.name, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        if self.p.returncode not in (0, -signal.SIGTERM) or \
                "Sanitizer" in text or "runtime error:" in text:
            log("WARNING: %s exited with %s; its log:\n%s" % (
                os.path.basename(self.p.args[3]), self.p.returncode,
                text[-2000:]))


class Target:
    """A server under test: its pids for CPU accounting and its endpoints."""

    def __init__(self, name, port, pids, main_pid, paths):
        self.name = name
        self.port = port
        self.pids = pids
        self.main_pid = main_pid
        self.paths = paths

    def cpu(self):
        return sum(cpu_seconds(p) for p in self.pids)


# Load generators ------------------------------------------------------------

def run_wrk(target, path, conns, duration, method="GET", body="",
            headers=(), churn=False):
    env = dict(os.environ, WRK_METHOD=method, WRK_BODY=body,
               WRK_HEADERS="\n".join(list(headers) +
                                     (["Connection: close"] if churn else [])))
    args = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c%d" % conns,
            "-d%ds" % duration, "--timeout", "10s",
            "-s", os.path.join(HERE, "wrk", "request.lua"),
            "http://127.0.0.1:%d%s" % (target.port, path)]
    return measure(target, lambda: subprocess.run(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=duration + 60), parse_wrk)


def parse_wrk(p):
    for line in p.stdout.decode().splitlines():
        if line.startswith("BENCHJSON "):
            j = json.loads(line[len("BENCHJSON "):])
            secs = j["duration_us"] / 1e6
            errs = (j["connect_errors"] + j["read_errors"] +
                    j["write_errors"] + j["status_errors"] + j["timeouts"])
            return {"count": j["requests"], "seconds": secs,
                    "rps": j["requests"] / secs if secs else 0,
                    "p50_ms": j["p50_us"] / 1e3, "p99_ms": j["p99_us"] / 1e3,
                    "errors": errs}
    raise RuntimeError("wrk failed: %s %s" % (p.stdout.decode()[-500:],
                                              p.stderr.decode()[-500:]))


def driver_args(target, mode, conns, duration, client="bench", auth=BASIC):
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": client,
        "redirect_uri": REDIRECT, "scope": SCOPE,
        "code_challenge": CHALLENGE, "code_challenge_method": "S256"},
        quote_via=urllib.parse.quote)
    return ["taskset", "-c", LOAD_CPU, DRIVER, "--port", str(target.port),
            "--mode", mode, "--conns", str(conns), "--duration",
            str(duration), "--authorize", target.paths["authorize"] + "?" + q,
            "--redirect-uri", REDIRECT, "--token-path", target.paths["token"],
            "--token-auth", auth, "--verifier", VERIFIER,
            "--email", EMAIL, "--password", PASSWORD]


def parse_driver(p):
    out = p.stdout.decode().strip().splitlines()
    if not out:
        raise RuntimeError("login driver failed: " + p.stderr.decode()[-800:])
    j = json.loads(out[-1])
    if p.stderr:
        log("driver: " + p.stderr.decode().strip()[:600])
    return {"count": j["rounds"], "seconds": j["seconds"], "rps": j["rps"],
            "p50_ms": j["p50_ms"], "p99_ms": j["p99_ms"],
            "errors": j["errors"], "requests": j["requests"],
            "server_cpu_s": j.get("server_cpu_s", -1)}


def run_driver(target, mode, conns, duration, extra=(), measured=True):
    args = driver_args(target, mode, conns, duration) + list(extra) + [
        "--cpu-pids", ",".join(str(p) for p in target.pids)]
    run = lambda: subprocess.run(args, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 timeout=duration + 600)
    if not measured:
        return parse_driver(run())
    return measure(target, run, parse_driver)


CURRENT_ROW = ["row"]
PROFILE = None  # directory for perf profiles (--profile)


def perf_start(target, name):
    if PROFILE is None or target.name != "kontor":
        return None
    out = os.path.join(PROFILE, name + ".data")
    p = subprocess.Popen(["taskset", "-c", LOAD_CPU, "perf", "record", "-q",
                          "-e", "cpu-clock", "-F", "700", "--call-graph",
                          "dwarf,16384", "-o", out, "-p",
                          ",".join(str(x) for x in target.pids)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return p, out, name


def perf_summary(data):
    """Two views of a call-graph profile: the functions whose subtree holds
    the most samples, and every sample charged to the innermost kontor-idp
    function on its stack (what of kontor's own code it was working for)."""
    import collections
    out = subprocess.run(["perf", "script", "-i", data, "-F",
                          "comm,ip,sym,dso"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode(
                             "utf-8", "replace")
    samples, cur = [], []
    for line in out.splitlines():
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = []
        elif line[0] in " \t":
            parts = line.strip().split(None, 1)
            cur.append(parts[1] if len(parts) > 1 else parts[0])
    if cur:
        samples.append(cur)
    n = len(samples) or 1
    name = lambda f: f.split(" (")[0].split("+0x")[0]
    incl, owner = collections.Counter(), collections.Counter()
    for s in samples:
        for f in set(name(f) for f in s):
            incl[f] += 1
        o = "(outside kontor-idp) " + name(s[0])
        for f in s:
            if "kontor-idp)" in f:
                o = name(f)
                break
        owner[o] += 1
    lines = ["%d samples" % len(samples), "", "inclusive (subtree):"]
    lines += ["  %5.1f%%  %s" % (100.0 * k / n, f)
              for f, k in incl.most_common(60) if f != "[unknown]"]
    lines += ["", "charged to the innermost kontor-idp function:"]
    lines += ["  %5.1f%%  %s" % (100.0 * k / n, f)
              for f, k in owner.most_common(30)]
    return "\n".join(lines) + "\n"


def perf_stop(h):
    if h is None:
        return
    p, out, name = h
    p.send_signal(signal.SIGINT)
    p.wait(60)
    with open(os.path.join(PROFILE, name + ".txt"), "w") as f:
        f.write(perf_summary(out))
    os.unlink(out)


def measure(target, run, parse):
    """Run one row: server CPU and RSS around the load generator."""
    prof = perf_start(target, CURRENT_ROW[0])
    c0 = target.cpu()
    w0 = time.time()
    with RssSampler(target.main_pid) as rs:
        p = run()
    wall = time.time() - w0
    c1 = target.cpu()
    perf_stop(prof)
    r = parse(p)
    r["cpu_s"] = c1 - c0
    r["cpu_frac"] = (c1 - c0) / wall if wall else 0
    if r.get("server_cpu_s", -1) > 0:
        # the driver read the same counters around its measured window,
        # leaving out the logins that set up the single-sign-on sessions
        r["cpu_s"] = r["server_cpu_s"]
        r["cpu_frac"] = r["cpu_s"] / r["seconds"] if r["seconds"] else 0
    # rounds per server CPU-second; the CPU window includes the load
    # generator's start and stop, where the server idles
    r["per_cpu"] = r["count"] / r["cpu_s"] if r["cpu_s"] > 0 else 0
    r["rss"] = rs.max
    return r


def get_codes(target, n, conns=16):
    """n fresh authorization codes (SSO rounds without the exchange)."""
    path = os.path.join(TMP, "codes-%s.txt" % target.name)
    args = driver_args(target, "codes", min(conns, n), 1) + [
        "--codes", path, "--count", str(n)]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=900)
    parse_driver(p)
    with open(path) as f:
        codes = [l.strip() for l in f if l.strip()]
    return path, codes


def tokens_for(target, client="bench", auth=BASIC):
    """Access and ID token from one code flow of the given client."""
    path = os.path.join(TMP, "one-code-%s.txt" % target.name)
    args = driver_args(target, "codes", 1, 1, client=client, auth=auth) + [
        "--codes", path, "--count", "1"]
    parse_driver(subprocess.run(args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=120))
    code = open(path).read().split()[0]
    st, body = http_req(target.port, "POST", target.paths["token"],
                        urllib.parse.urlencode({
                            "grant_type": "authorization_code", "code": code,
                            "redirect_uri": REDIRECT,
                            "code_verifier": VERIFIER}),
                        {"Authorization": auth})
    if st != 200:
        raise RuntimeError("%s: code exchange failed: %d %s" %
                           (target.name, st, body[:300]))
    return json.loads(body)


# Rows ---------------------------------------------------------------------

def check(target, what, status, body, want_status=200, want=None):
    if status != want_status or (want and want not in body):
        raise RuntimeError("%s %s: sanity check failed: %d %s" %
                           (target.name, what, status, body[:300]))


def row_discovery(t, conns, dur, churn=False):
    p = "/.well-known/openid-configuration"
    check(t, "discovery", *http_req(t.port, "GET", p), want="issuer")
    return run_wrk(t, p, conns, dur, churn=churn)


def row_jwks(t, conns, dur):
    check(t, "jwks", *http_req(t.port, "GET", t.paths["jwks"]), want="keys")
    return run_wrk(t, t.paths["jwks"], conns, dur)


def cc_request(t):
    return dict(method="POST", body="grant_type=client_credentials&scope=api",
                headers=["Authorization: " + BASIC,
                         "Content-Type: application/x-www-form-urlencoded"])


def row_cc(t, conns, dur, churn=False):
    rq = cc_request(t)
    st, body = http_req(t.port, "POST", t.paths["token"], rq["body"],
                        {"Authorization": BASIC})
    check(t, "client_credentials", st, body, want="access_token")
    hdr = json.loads(base64.urlsafe_b64decode(
        json.loads(body)["access_token"].split(".")[0] + "=="))
    if hdr.get("alg") != "ES256":
        raise RuntimeError("%s: client_credentials token is %r, not ES256"
                           % (t.name, hdr))
    return run_wrk(t, t.paths["token"], conns, dur, churn=churn, **rq)


def row_code(t, conns, dur, expect_rps):
    # enough codes for the row: the driver stops early if they run out
    n = int(max(500, min(60000, expect_rps * dur * 1.3)))
    path, codes = get_codes(t, n)
    log("%s: %d codes ready" % (t.name, len(codes)))
    return run_driver(t, "exchange", conns, dur, ["--codes", path])


def row_full(t, conns, dur):
    return run_driver(t, "full", conns, dur)


def row_sso(t, conns, dur):
    return run_driver(t, "sso", conns, dur)


def row_userinfo(t, conns, dur):
    tok = t.userinfo_token()
    st, body = http_req(t.port, "GET", t.paths["userinfo"],
                        headers={"Authorization": "Bearer " + tok})
    check(t, "userinfo", st, body, want="sub")
    return run_wrk(t, t.paths["userinfo"], conns, dur,
                   headers=["Authorization: Bearer " + tok])


def row_introspect(t, conns, dur):
    tok = t.introspect_token()
    body = urllib.parse.urlencode({"token": tok})
    st, rb = http_req(t.port, "POST", t.paths["introspect"], body,
                      {"Authorization": t.introspect_auth})
    check(t, "introspection", st, rb, want='"active":true')
    return run_wrk(t, t.paths["introspect"], conns, dur, method="POST",
                   body=body, headers=[
                       "Authorization: " + t.introspect_auth,
                       "Content-Type: application/x-www-form-urlencoded"])


def idle_conns(t, n):
    """RSS of the server while n served keep-alive connections sit idle."""
    base = rss_mib(t.main_pid)
    p = subprocess.Popen(["taskset", "-c", LOAD_CPU, sys.executable,
                          os.path.join(HERE, "idle_conns.py"), "127.0.0.1",
                          str(t.port), str(n), t.paths["jwks"]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode().split()
    time.sleep(1.0)
    rss = rss_mib(t.main_pid)
    p.stdin.close()
    p.wait(60)
    held = int(line[1]) if len(line) >= 2 else 0
    return {"held": held, "rss": rss, "base": base}


# Servers ------------------------------------------------------------------

def start_kontor(log_level="info"):
    d = tempfile.mkdtemp(prefix="kontor-", dir=TMP)
    sock = os.path.join(d, "redis.sock")
    redis = Proc(["redis-server", "--port", "0", "--unixsocket", sock,
                  "--unixsocketperm", "700", "--dir", d, "--save", "",
                  "--appendonly", "yes", "--appendfsync", "everysec"],
                 os.path.join(d, "redis.log"))
    wait_for(lambda: os.path.exists(sock), what="redis socket")
    port = free_port()
    keys = os.path.join(d, "keys")
    subprocess.run([IDP, "keys", "generate", "--dir", keys], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = {"client_secret": SECRET, "redirect_uris": [REDIRECT],
              "token_endpoint_auth_method": "client_secret_basic",
              "scope": SCOPE, "skip_consent": True}
    cfg = {
        "issuer": "http://127.0.0.1:%d" % port,
        "listen": {"address": "127.0.0.1", "port": port},
        "threads": 1,  # one core: one loop (0 would start one per CPU)
        "redis": {"url": "unix://" + sock},
        "keys": {"dir": keys},
        "limits": {"max_connections": 11000},
        # longer than the defaults so pre-generated codes and the tokens
        # of the userinfo rows outlive the rows that use them
        "tokens": {"code_ttl_s": 600, "access_token_ttl_s": 3600},
        "dev": {"allow_http_loopback": True},
        "log": {"level": log_level},
        "clients": [
            dict(client, client_id="bench",
                 grant_types=["authorization_code", "client_credentials"]),
        ],
    }
    cfg_path = os.path.join(d, "kontor.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    # production password parameters: the defaults
    subprocess.run([IDP, "user", "add", "--config", cfg_path, "--email",
                    EMAIL, "--name", "Bench Person", "--verified",
                    "--password-env", "KT_BENCH_PW"], check=True,
                   env=dict(os.environ, KT_BENCH_PW=PASSWORD,
                            KONTOR_REDIS_URL="unix://" + sock),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    idp = Proc([IDP, "--config", cfg_path], os.path.join(d, "idp.log"))
    wait_for(lambda: http_req(port, "GET", "/healthz", timeout=1)[0] == 200,
             what="kontor-idp /healthz")
    t = Target("kontor", port, [idp.pid, redis.pid], idp.pid, {
        "authorize": "/authorize", "token": "/token", "jwks": "/jwks",
        "userinfo": "/userinfo", "introspect": "/introspect"})
    t.procs = [idp, redis]
    t.dir = d
    t.introspect_auth = BASIC
    t._tok = None

    def token():
        if t._tok is None:
            t._tok = tokens_for(t)["access_token"]
        return t._tok
    t.userinfo_token = token
    t.introspect_token = token
    return t


def start_peer():
    port = free_port()
    mod = os.path.join(HERE, ".peer", "node_modules", "oidc-provider", "lib",
                       "index.js")
    env = dict(os.environ, NODE_ENV="production", PEER_MODULE=mod,
               PEER_PORT=str(port), PEER_SECRET=SECRET,
               PEER_REDIRECT=REDIRECT, PEER_EMAIL=EMAIL,
               PEER_PASSWORD=PASSWORD)
    node = Proc(["node", os.path.join(HERE, "peer", "server.mjs")],
                os.path.join(TMP, "peer.log"), env=env)
    wait_for(lambda: http_req(port, "GET", "/.well-known/openid-configuration",
                              timeout=1)[0] == 200, what="peer")
    _, disc = http_req(port, "GET", "/.well-known/openid-configuration")
    disc = json.loads(disc)
    path = lambda k: urllib.parse.urlsplit(disc[k]).path
    t = Target("peer", port, [node.pid], node.pid, {
        "authorize": path("authorization_endpoint"),
        "token": path("token_endpoint"), "jwks": path("jwks_uri"),
        "userinfo": path("userinfo_endpoint"),
        "introspect": path("introspection_endpoint")})
    t.procs = [node]
    # oidc-provider takes only opaque tokens at userinfo and cannot
    # introspect JWT access tokens: both rows use the opaque token of the
    # "bench-ui" client (see peer/server.mjs)
    t.introspect_auth = UI_BASIC
    t._tok = None

    def token():
        if t._tok is None:
            t._tok = tokens_for(t, "bench-ui", UI_BASIC)["access_token"]
        return t._tok
    t.userinfo_token = token
    t.introspect_token = token
    return t


def stop(t):
    for p in t.procs:
        p.stop()


# Limits of the machine ------------------------------------------------------

def openssl_speed(seconds, *algs):
    p = subprocess.run(["taskset", "-c", SERVER_CPU, "openssl", "speed",
                        "-seconds", str(seconds), "-mr"] +
                       list(algs or ("ecdsap256", "rsa2048")),
                       stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=True)
    out = {}
    for line in p.stdout.decode().splitlines():
        f = line.split(":")
        if line.startswith("+F2:") and f[2] == "2048":
            out["rs256_sign"], out["rs256_verify"] = float(f[3]), float(f[4])
        if line.startswith("+F4:") and f[2] == "256":
            out["es256_sign"], out["es256_verify"] = float(f[3]), float(f[4])
    return out


def password_hash(n):
    """CPU milliseconds per hash at the default (production) parameters.
    CPU time, not the bench's wall time, so a shared core does not count."""
    import resource
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(["taskset", "-c", SERVER_CPU, PWBENCH, str(n)],
                       stdout=subprocess.PIPE, check=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return 1e3 * cpu / n, p.stdout.decode().strip()


def floor_pass(res, dur):
    """Measure the HTTP floor; run at the start and at the end, keeping the
    better figure of each, so a busy moment does not lower the floor."""
    log("HTTP floor")
    fl = start_floor()
    try:
        got = {64: run_wrk(fl, "/", 64, dur), 1: run_wrk(fl, "/", 1, dur),
               "churn": run_wrk(fl, "/", 64, dur, churn=True)}
    finally:
        stop(fl)
    res.setdefault("floor", {})
    for k, r in got.items():
        key = "floor_churn" if k == "churn" else None
        old = res.get(key) if key else res["floor"].get(k)
        if old:
            r = dict(r, rps=max(r["rps"], old["rps"]),
                     per_cpu=max(r["per_cpu"], old["per_cpu"]),
                     p99_ms=min(r["p99_ms"], old["p99_ms"]))
        if key:
            res[key] = r
        else:
            res["floor"][k] = r


def paired(res, k, dur, reps, keys):
    """The target rows at 64 connections again, each right after a floor
    run of its own (and client_credentials after an ES256 `openssl speed`
    of its own), reps times. The table's floor is the better of two runs
    minutes away from the row; on a shared machine whose speed drifts by
    5-10% between minutes, ratios of figures taken seconds apart, and
    their median over several runs, say more about the targets."""
    fns = {"discovery": row_discovery, "jwks": row_jwks, "cc": row_cc}
    out = {key: [] for key in keys}
    fl = start_floor()
    try:
        for i in range(reps):
            for key in keys:
                log("paired %d/%d: floor, then kontor %s" % (i + 1, reps, key))
                f = run_wrk(fl, "/", 64, dur)
                cost = 1.0 / f["per_cpu"]
                if key == "cc":
                    cost += 1.0 / openssl_speed(1, "ecdsap256")["es256_sign"]
                r = fns[key](k, 64, dur)
                out[key].append({"cpu": r["per_cpu"] * cost,
                                 "rps": r["rps"] / f["rps"]})
    finally:
        stop(fl)
    res["paired"] = out


def jose_layer():
    """What the JOSE layer (kt_jws_sign, and the prepared keys the gateway
    uses: kt_jws_key_sign / kt_jws_key_verify) adds to a bare signature
    and verification."""
    p = subprocess.run(["taskset", "-c", SERVER_CPU, JWSBENCH, "20000"],
                       stdout=subprocess.PIPE, check=True)
    return p.stdout.decode().strip().splitlines()


def start_floor():
    port = free_port()
    p = Proc([FLOOR, str(port)], os.path.join(TMP, "floor.log"))
    wait_for(lambda: http_req(port, "GET", "/", timeout=1)[0] == 200,
             what="floor")
    t = Target("floor", port, [p.pid], p.pid, {})
    t.procs = [p]
    return t


# Table --------------------------------------------------------------------

def fmt(v, nd=0):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    return ("{:,.%df}" % nd).format(v)


def pct(v):
    return "–" if v is None else "%.0f%%" % (100 * v)


def ratio(v):
    return "–" if v is None else "%.2f×" % v


def main():
    global TMP, IDP, FLOOR, DRIVER, PWBENCH, JWSBENCH
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build-release"))
    ap.add_argument("--duration", type=int, default=5,
                    help="seconds per row (full login rows: twice that)")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--rows", default="",
                    help="comma-separated subset of: discovery, jwks, cc, "
                    "code, full, sso, userinfo, introspect, discovery_churn, "
                    "cc_churn")
    ap.add_argument("--idle", type=int, default=10000,
                    help="idle keep-alive connections (0: skip)")
    ap.add_argument("--paired", type=int, default=3, metavar="N",
                    help="run the discovery, JWKS and client_credentials "
                    "rows N more times, each right after a floor run of its "
                    "own (0: skip)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--profile", metavar="DIR",
                    help="perf-record kontor-idp and its Redis during each "
                    "row (call graphs); summaries go to DIR/<row>.txt")
    a = ap.parse_args()
    global PROFILE
    if a.profile:
        PROFILE = os.path.abspath(a.profile)
        os.makedirs(PROFILE, exist_ok=True)

    IDP = os.path.join(a.build, "kontor-idp")
    FLOOR = os.path.join(a.build, "bench", "bench_floor")
    DRIVER = os.path.join(a.build, "bench", "bench_login_driver")
    PWBENCH = os.path.join(a.build, "bench", "bench_password_hash")
    JWSBENCH = os.path.join(a.build, "bench", "bench_jws_sign")
    for f in (IDP, FLOOR, DRIVER, PWBENCH, JWSBENCH):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s missing: run bench/run.sh" % f)
    for tool in ("wrk", "taskset", "redis-server", "openssl"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s missing: run bench/run.sh" % tool)
    TMP = tempfile.mkdtemp(prefix="kontor-bench-")
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    dur = a.duration
    res = {"date": datetime.datetime.now().astimezone().isoformat(
        timespec="seconds"), "load_before": os.getloadavg(),
        "duration": dur}

    # the machine's limits ------------------------------------------------
    log("openssl speed (ES256, RS256) on core %s" % SERVER_CPU)
    res["openssl"] = openssl_speed(2)
    log("password hash at the production parameters")
    res["hash_ms"], res["hash_line"] = password_hash(10)
    log("JOSE layer (kt_jws_sign, kt_jws_key_sign, kt_jws_key_verify)")
    res["jose"] = jose_layer()
    floor_pass(res, dur)

    rows = [
        ("discovery", "discovery", lambda t, c: row_discovery(t, c, dur)),
        ("jwks", "JWKS", lambda t, c: row_jwks(t, c, dur)),
        ("cc", "token: client_credentials", lambda t, c: row_cc(t, c, dur)),
        ("code", "token: code exchange",
         lambda t, c: row_code(t, c, dur, t.code_rps)),
        ("full", "full login round", lambda t, c: row_full(t, c, 2 * dur)),
        ("sso", "single-sign-on round", lambda t, c: row_sso(t, c, dur)),
        ("userinfo", "userinfo", lambda t, c: row_userinfo(t, c, dur)),
        ("introspect", "introspection",
         lambda t, c: row_introspect(t, c, dur)),
        ("discovery_churn", "discovery, no keep-alive",
         lambda t, c: row_discovery(t, c, dur, churn=True)),
        ("cc_churn", "token: client_credentials, no keep-alive",
         lambda t, c: row_cc(t, c, dur, churn=True)),
    ]
    only = set(filter(None, a.rows.split(",")))
    if only:
        rows = [r for r in rows if r[0] in only]

    def suite(t, variant=""):
        out = {}
        # a code exchange signs an ES256 and an RS256 token: at most this
        o = res["openssl"]
        t.code_rps = 1 / (1 / o["es256_sign"] + 1 / o["rs256_sign"])
        for key, _, fn in rows:
            for c in ((64,) if key.endswith("churn") else (64, 1)):
                log("%s%s: %s, %d connection(s)" % (t.name, variant, key, c))
                CURRENT_ROW[0] = "%s-%s-%d" % (t.name, key, c)
                try:
                    out["%s/%d" % (key, c)] = r = fn(t, c)
                    if key in ("cc", "code") and c == 64:
                        t.code_rps = min(t.code_rps, r["rps"])
                except Exception as e:  # a failed row is reported, not fatal
                    log("%s %s/%d failed: %s" % (t.name, key, c, e))
                    out["%s/%d" % (key, c)] = {"failed": str(e)[:200]}
        return out

    log("kontor-idp (log.level info)")
    k = start_kontor("info")
    try:
        time.sleep(0.5)
        res["kontor_idle_rss"] = rss_mib(k.main_pid)
        res["kontor"] = suite(k)
        res["kontor_peak_rss"] = max(
            [v.get("rss", 0) for v in res["kontor"].values()] or [0])
        pkeys = [r[0] for r in rows if r[0] in ("discovery", "jwks", "cc")]
        if a.paired and pkeys:
            paired(res, k, dur, a.paired, pkeys)
        if a.idle:
            log("kontor: %d idle keep-alive connections" % a.idle)
            res["kontor_idle"] = idle_conns(k, a.idle)
    finally:
        stop(k)
    log("kontor-idp (log.level warn): the access log's share")
    k = start_kontor("warn")
    try:
        res["kontor_warn"] = {}
        for key, _, fn in rows:
            if key in ("discovery", "cc", "sso"):
                log("kontor (warn): %s, 64 connections" % key)
                res["kontor_warn"][key + "/64"] = fn(k, 64)
    finally:
        stop(k)
    if not a.no_peer:
        log("peer: oidc-provider (NODE_ENV=production)")
        p = start_peer()
        try:
            time.sleep(0.5)
            res["peer_idle_rss"] = rss_mib(p.main_pid)
            res["peer"] = suite(p)
            res["peer_peak_rss"] = max(
                [v.get("rss", 0) for v in res["peer"].values()] or [0])
            if a.idle:
                log("peer: %d idle keep-alive connections" % a.idle)
                res["peer_idle"] = idle_conns(p, a.idle)
        finally:
            stop(p)
    floor_pass(res, dur)
    res["idle_n"] = a.idle
    res["load_after"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    print_report(res, rows)
    shutil.rmtree(TMP, ignore_errors=True)


def floors(res, key, conns):
    """(requests per CPU-second, requests/s) this row could reach at most:
    the bare HTTP round trips it needs plus its signatures and hashes."""
    fl = res["floor"][64 if conns == 64 else 1]
    if key.endswith("churn"):
        fl = res["floor_churn"]
    o = res["openssl"]
    http_cpu = 1.0 / fl["per_cpu"]  # CPU-seconds per bare round trip
    es, rs, ev = (1.0 / o["es256_sign"], 1.0 / o["rs256_sign"],
                  1.0 / o["es256_verify"])
    cost = {
        "discovery": http_cpu, "jwks": http_cpu,
        "cc": http_cpu + es, "code": http_cpu + es + rs,
        "sso": 2 * http_cpu + es + rs, "full": res["hash_ms"] / 1e3,
        "userinfo": http_cpu + ev, "introspect": http_cpu + ev,
        "discovery_churn": http_cpu, "cc_churn": http_cpu + es,
    }[key]
    # requests/s: the floor's own rate (the load generator's limit) for
    # single requests; rounds are bounded by their CPU cost only
    rps = fl["rps"] if key in ("discovery", "jwks", "discovery_churn") \
        else None
    return 1.0 / cost, rps


def print_report(res, rows):
    o = res["openssl"]
    out = []
    w = out.append
    w("kontor benchmark, %s (%d s per row; load average before %.2f, "
      "after %.2f)" % (res["date"], res["duration"], res["load_before"][0],
                      res["load_after"][0]))
    w("")
    w("Machine limits (core %s): ES256 sign %s/s, verify %s/s; RS256 sign "
      "%s/s; password hash %.1f CPU-ms (%s/s); HTTP floor %s req/s at 64 conns "
      "(%s per CPU-s, %.0f%% of its core), %s req/s at 1 conn; no keep-alive "
      "%s req/s (%s per CPU-s); floor p99 %.2f ms at 64 conns" % (
          SERVER_CPU, fmt(o["es256_sign"]), fmt(o["es256_verify"]),
          fmt(o["rs256_sign"]), res["hash_ms"], fmt(1000 / res["hash_ms"], 1),
          fmt(res["floor"][64]["rps"]), fmt(res["floor"][64]["per_cpu"]),
          100 * res["floor"][64]["cpu_frac"], fmt(res["floor"][1]["rps"]),
          fmt(res["floor_churn"]["rps"]), fmt(res["floor_churn"]["per_cpu"]),
          res["floor"][64]["p99_ms"]))
    for line in res.get("jose", []):
        w("JOSE layer, " + line)
    w("")
    w("| row | conns | req/s | p50 ms | p99 ms | per CPU-s | floor per CPU-s "
      "| of floor (CPU) | of floor (req/s) | peer req/s | peer per CPU-s "
      "| kontor/peer (CPU) | kontor/peer (req/s) | RSS MiB (peer) | errors |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    peer = res.get("peer", {})
    for key, label, _ in rows:
        for c in ((64,) if key.endswith("churn") else (64, 1)):
            r = res["kontor"].get("%s/%d" % (key, c))
            p = peer.get("%s/%d" % (key, c))
            if r is None:
                continue
            if "failed" in r:
                w("| %s | %d | failed: %s |" % (label, c, r["failed"]))
                continue
            fcpu, frps = floors(res, key, c)
            pok = p is not None and "failed" not in p
            w("| %s | %d | %s | %.2f | %.2f | %s | %s | %s | %s | %s | %s "
              "| %s | %s | %.1f (%s) | %s |" % (
                  label, c, fmt(r["rps"], 1 if r["rps"] < 100 else 0),
                  r["p50_ms"], r["p99_ms"], fmt(r["per_cpu"], 1 if
                                                r["per_cpu"] < 100 else 0),
                  fmt(fcpu, 1 if fcpu < 100 else 0),
                  pct(r["per_cpu"] / fcpu),
                  pct(r["rps"] / frps) if frps else "–",
                  fmt(p["rps"], 1) if pok else "–",
                  fmt(p["per_cpu"], 1) if pok else "–",
                  ratio(r["per_cpu"] / p["per_cpu"]) if pok and
                  p["per_cpu"] else "–",
                  ratio(r["rps"] / p["rps"]) if pok and p["rps"] else "–",
                  r["rss"], "%.1f" % p["rss"] if pok else "–",
                  "%d%s" % (r["errors"], " (peer %d)" % p["errors"]
                            if pok and p["errors"] else "")))
    w("| migration (records/s per stage, peak RSS at 100k and 1M records) "
      "| – | bench/migrate.sh, printed after this table by bench/run.sh "
      "|||||||||||||")
    w("")
    kw = res.get("kontor_warn", {})
    if kw:
        parts = []
        for key in ("discovery", "cc", "sso"):
            a, b = res["kontor"].get(key + "/64"), kw.get(key + "/64")
            if a and b and "failed" not in a and "failed" not in b:
                parts.append("%s %s → %s per CPU-s (%+.0f%%)" % (
                    key, fmt(a["per_cpu"]), fmt(b["per_cpu"]),
                    100 * (b["per_cpu"] / a["per_cpu"] - 1)))
        w("Access log (log.level info → warn, 64 conns): " + "; ".join(parts))
    w("Idle RSS: kontor-idp %.1f MiB%s; under load max %.1f MiB%s" % (
        res["kontor_idle_rss"],
        ", peer %.1f MiB" % res["peer_idle_rss"] if "peer_idle_rss" in res
        else "", res["kontor_peak_rss"],
        ", peer %.1f MiB" % res["peer_peak_rss"] if "peer_peak_rss" in res
        else ""))
    if "kontor_idle" in res:
        ki = res["kontor_idle"]
        s = "%d idle keep-alive connections: kontor-idp %.1f MiB (held %d)" % (
            res.get("idle_n", 10000), ki["rss"], ki["held"])
        if "peer_idle" in res:
            s += ", peer %.1f MiB (held %d)" % (res["peer_idle"]["rss"],
                                                 res["peer_idle"]["held"])
        w(s)
    pr = res.get("paired")
    if pr:
        parts = []
        for key, vals in pr.items():
            cpu = sorted(v["cpu"] for v in vals)
            rps = sorted(v["rps"] for v in vals)
            parts.append("%s %s of the floor per CPU-s (%s–%s)%s" % (
                {"cc": "client_credentials", "jwks": "JWKS"}.get(key, key),
                pct(median(cpu)), pct(cpu[0]), pct(cpu[-1]),
                "" if key == "cc" else ", %s of its req/s" % pct(median(rps))))
        w("Paired runs (each row at 64 conns right after a floor run of its "
          "own; median of %d, range): %s" % (len(next(iter(pr.values()))),
                                            "; ".join(parts)))
    w("")
    w(targets(res))
    print("\n".join(out))


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def paired_note(res, key, checks):
    """'; paired: median 81% of the floor per CPU-s (met)' for a row."""
    vals = res.get("paired", {}).get(key)
    if not vals:
        return ""
    what = {"rps": "req/s", "cpu": "per CPU-s"}
    return "; paired median of %d: %s" % (len(vals), ", ".join(
        "%.1f%% of floor %s (%s)" % (
            100 * median([v[m] for v in vals]), what[m],
            "met" if median([v[m] for v in vals]) >= lim else "NOT met")
        for m, lim in checks))


def targets(res):
    k = res["kontor"]
    p = res.get("peer", {})
    lines = ["Targets (issue 6):"]

    def ok(cond):
        return "met" if cond else "NOT met"

    def get(d, key):
        r = d.get(key)
        return r if r and "failed" not in r else None

    for key in ("discovery", "jwks"):
        r = get(k, key + "/64")
        if r:
            fcpu, frps = floors(res, key, 64)
            a, b = r["rps"] / frps, r["per_cpu"] / fcpu
            lines.append("- %s: %.1f%% of floor req/s (≥ 90%%: %s), %.1f%% of "
                         "floor per CPU-s (≥ 80%%: %s), p99 %.2f ms at 64 "
                         "conns (< 2 ms: %s; the floor's p99 in this run: "
                         "%.2f ms)%s" % (
                             key, 100 * a, ok(a >= 0.9), 100 * b,
                             ok(b >= 0.8), r["p99_ms"], ok(r["p99_ms"] < 2),
                             res["floor"][64]["p99_ms"],
                             paired_note(res, key, (("rps", 0.9),
                                                    ("cpu", 0.8)))))
    r = get(k, "cc/64")
    if r:
        fcpu, _ = floors(res, "cc", 64)
        b = r["per_cpu"] / fcpu
        pc = get(p, "cc/64")
        lines.append("- client_credentials: %s per CPU-s = %.1f%% of its "
                     "floor %s (≥ 70%%: %s)%s%s" % (
                         fmt(r["per_cpu"]), 100 * b, fmt(fcpu), ok(b >= 0.7),
                         "; %.1f× the peer" % (r["per_cpu"] / pc["per_cpu"])
                         if pc else "",
                         paired_note(res, "cc", (("cpu", 0.7),))))
    r, pf = get(k, "sso/64"), get(p, "full/64")
    if r and pf:
        x = r["per_cpu"] / pf["per_cpu"]
        lines.append("- single-sign-on round: %s per CPU-s = %.2f× the "
                     "peer's full round (%s per CPU-s; its password check "
                     "is a plain compare) (≥ 5×: %s)" % (
                         fmt(r["per_cpu"]), x, fmt(pf["per_cpu"], 1),
                         ok(x >= 5)))
    r = get(k, "full/64")
    if r:
        lim = 1000 / res["hash_ms"]
        x = r["per_cpu"] / lim
        lines.append("- full login round: %.1f per CPU-s = %.0f%% of the "
                     "password-hash limit %.1f/s (≥ 80%%: %s)" % (
                         r["per_cpu"], 100 * x, lim, ok(x >= 0.8)))
    idle = res["kontor_idle_rss"]
    lines.append("- idle RSS %.1f MiB (≤ 16: %s); under load %.1f MiB (≤ 32: "
                 "%s)" % (idle, ok(idle <= 16), res["kontor_peak_rss"],
                          ok(res["kontor_peak_rss"] <= 32)))
    if "kontor_idle" in res:
        v = res["kontor_idle"]["rss"]
        lines.append("- 10,000 idle keep-alive connections: %.1f MiB "
                     "(≤ 128: %s)" % (v, ok(v <= 128 and
                                            res["kontor_idle"]["held"] >=
                                            10000)))
    lines.append("- migration (records/s per stage, peak RSS at 100k and 1M "
                 "records): bench/migrate.sh, below (target: import + match "
                 "of 1M records under 60 s, every process under 2 GiB)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
