"""Interoperability: Debian's Apache mod_auth_openidc (2.4.12.3) as the
relying party.

A private Apache (own ServerRoot in a temp dir, loopback port, foreground)
protects /protected/ with AuthType openid-connect against the harness
gateway: discovery by OIDCProviderMetadataURL, code flow with PKCE S256,
client_secret_basic, ID token and UserInfo validation by the module. The
protected location echoes claims from the module's environment in
response headers (mod_headers), so the test sees exactly what an
application behind Apache would get. RP-initiated logout goes back
through the gateway's end_session_endpoint with id_token_hint.
"""

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.parse

import requests

import harness
import rp_util

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
SECRET = "mod-auth-openidc-" + "m" * 32
EMAIL = "joerg.mueller@example.de"
NAME = "J\u00f6rg M\u00fcller"  # UTF-8 through JWT, UserInfo and Apache

HTTPD_CONF = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
Listen 127.0.0.1:{fp_port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}/run"
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:info
LogFormat "%h \\"%r\\" %>s" short
CustomLog "{root}/access.log" short
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
TypesConfig /dev/null
AddType text/html .html
DirectoryIndex index.html
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Require all granted
</Directory>

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID apache
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCSSLValidateServer Off
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCPassClaimsAs environment
OIDCSessionType server-cache
OIDCCacheType shm

<Location /protected/>
    AuthType openid-connect
    Require valid-user
    Header set X-Claim-Email "%{{OIDC_CLAIM_email}}e"
    Header set X-Claim-Sub "%{{OIDC_CLAIM_sub}}e"
    Header set X-Claim-Name "%{{OIDC_CLAIM_name}}e"
    Header set X-Claim-Iss "%{{OIDC_CLAIM_iss}}e"
    Header set X-Claim-Acr "%{{OIDC_CLAIM_acr}}e"
    Header set X-Remote-User "expr=%{{REMOTE_USER}}"
</Location>

# A second client that asks for response_mode=form_post.
<VirtualHost 127.0.0.1:{fp_port}>
    OIDCClientID apache-fp
    OIDCClientSecret {secret}
    OIDCRedirectURI http://127.0.0.1:{fp_port}/protected/redirect_uri
    OIDCResponseMode form_post
</VirtualHost>
"""


def have_apache():
    return (os.access(APACHE, os.X_OK) and
            os.path.exists(os.path.join(MODULES, "mod_auth_openidc.so")))


class Apache:
    def __init__(self, port, fp_port, issuer):
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.fp_url = "http://127.0.0.1:%d" % fp_port
        self.root = tempfile.mkdtemp(prefix="kontor-apache-")
        # Apache's children run as www-data when started as root (CI).
        os.chmod(self.root, 0o755)
        for d in ("htdocs/protected", "run"):
            os.makedirs(os.path.join(self.root, d), mode=0o755)
        self.write("htdocs/protected/index.html",
                   "<html><body>protected page</body></html>\n")
        self.write("htdocs/loggedout.html",
                   "<html><body>logged out</body></html>\n")
        user = ""
        if os.geteuid() == 0:
            user = "User www-data\nGroup www-data"
        conf = HTTPD_CONF.format(root=self.root, port=port, fp_port=fp_port,
                                 issuer=issuer,
                                 secret=SECRET, modules=MODULES, user=user,
                                 passphrase=secrets.token_urlsafe(32))
        self.conf = os.path.join(self.root, "httpd.conf")
        self.write("httpd.conf", conf)
        self.proc = None

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)

    def start(self):
        check = subprocess.run([APACHE, "-t", "-f", self.conf, "-d",
                                self.root], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
        if check.returncode != 0:
            raise RuntimeError("apache2 -t: " + check.stdout.decode())
        # Own process group: the children go with the parent at the end.
        self.proc = subprocess.Popen(
            [APACHE, "-DFOREGROUND", "-f", self.conf, "-d", self.root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        harness.wait_for(self.up, timeout=15, what="apache")

    def up(self):
        if self.proc.poll() is not None:
            raise RuntimeError("apache exited: " + self.log())
        return requests.get(self.url + "/loggedout.html",
                            timeout=1).status_code == 200

    def log(self):
        out = ""
        for name in ("error.log", "access.log"):
            try:
                with open(os.path.join(self.root, name), "rb") as f:
                    out += "== %s\n%s" % (name, f.read().decode(
                        "utf-8", "replace"))
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@unittest.skipUnless(have_apache(), "apache2 with mod_auth_openidc is not "
                     "installed (Debian: apache2 libapache2-mod-auth-openidc)")
class ModAuthOpenidcInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port, fp_port = harness.free_port(), harness.free_port()
        base = "http://127.0.0.1:%d" % port
        fp_base = "http://127.0.0.1:%d" % fp_port
        clients = [{
            "client_id": "apache", "client_secret": SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [base + "/protected/redirect_uri"],
            "post_logout_redirect_uris": [base + "/loggedout.html"],
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "Apache mod_auth_openidc",
        }, {
            "client_id": "apache-fp", "client_secret": SECRET,
            "redirect_uris": [fp_base + "/protected/redirect_uri"],
            "skip_consent": True,
        }]
        cls.gw = harness.Gateway(clients=clients,
                                 people=[{"email": EMAIL, "name": NAME}])
        cls.apache = Apache(port, fp_port, cls.gw.url)
        try:
            cls.apache.start()
        except Exception:
            cls.apache.close()
            cls.gw.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.apache.close()
        cls.gw.close()

    def run(self, result=None):
        return rp_util.run_with_logs(self, super().run, result,
                                     lambda: self.gw.logs(),
                                     lambda: self.apache.log())

    def browser(self):
        b = harness.Browser(self.gw)
        self.addCleanup(b.s.close)
        return b

    def start_login(self, b):
        """GET the protected page: Apache sends the browser to the gateway."""
        r = b.get(self.apache.url + "/protected/")
        self.assertEqual(r.status_code, 302, r.text[:300])
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.gw.url + "/authorize?"), loc)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["client_id"], "apache")
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertIn("nonce", q)
        self.assertIn("state", q)
        r = b.get(loc)
        self.assertEqual(r.status_code, 200, r.text[:300])
        return r, q

    def login(self, b):
        r, q = self.start_login(b)
        self.assertIn('name="password"', r.text)
        r = b.login(r, EMAIL, harness.DEMO_PASSWORD)
        if r.status_code == 200 and 'value="allow"' in r.text:
            self.assertIn("Apache mod_auth_openidc", r.text)
            r = b.submit(r, {}, button=("decision", "allow"))
        self.assertIn(r.status_code, (302, 303), r.text[:500])
        cb = r.headers["Location"]
        self.assertTrue(cb.startswith(
            self.apache.url + "/protected/redirect_uri?"), cb)
        # Apache exchanges the code, validates, then sends us back.
        r = rp_util.follow(b.s, b.get(cb))
        return r

    def test_login_claims_reach_the_application(self):
        b = self.browser()
        r = self.login(b)
        self.assertEqual(r.status_code, 200, r.text[:500])
        self.assertEqual(urllib.parse.urlsplit(r.url).path, "/protected/")
        self.assertIn("protected page", r.text)
        h = r.headers
        self.assertEqual(h["X-Claim-Email"], EMAIL)
        self.assertEqual(h["X-Claim-Iss"], self.gw.url)
        self.assertEqual(h["X-Claim-Acr"], "urn:kontor:acr:password")
        # Header bytes are UTF-8; requests reads them as Latin-1.
        self.assertEqual(
            h["X-Claim-Name"].encode("latin-1").decode("utf-8"), NAME)
        sub = h["X-Claim-Sub"]
        self.assertRegex(sub, r"^[A-Za-z0-9_-]{16,}$")
        # OIDCRemoteUserClaim defaults to sub@issuer.
        self.assertTrue(h["X-Remote-User"].startswith(sub), h)

        # The module's session carries the next request without the OP.
        r = b.get(self.apache.url + "/protected/")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["X-Claim-Sub"], sub)

    def test_logout_through_end_session_endpoint(self):
        b = self.browser()
        r = self.login(b)
        self.assertEqual(r.status_code, 200, r.text[:500])
        target = self.apache.url + "/loggedout.html"
        r = b.get(self.apache.url + "/protected/redirect_uri?logout=" +
                  urllib.parse.quote(target, safe=""))
        self.assertEqual(r.status_code, 302, r.text[:500])
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(self.gw.url + "/logout?"), loc)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertIn("id_token_hint", q)
        self.assertEqual(q["post_logout_redirect_uri"], target)
        r = b.get(loc)
        if r.status_code == 200 and 'value="logout"' in r.text:
            r = b.submit(r, {}, button=("decision", "logout"))
        self.assertIn(r.status_code, (302, 303), r.text[:500])
        self.assertEqual(r.headers["Location"].split("?")[0], target)
        # Both sessions are gone: Apache sends us to the gateway, and the
        # gateway asks for the password again.
        r, _ = self.start_login(b)
        self.assertIn('name="password"', r.text)

    def test_form_post_response_mode(self):
        """response_mode=form_post: the gateway answers with an
        auto-submitting form that the browser POSTs to Apache."""
        b = self.browser()
        r = b.get(self.apache.fp_url + "/protected/")
        self.assertEqual(r.status_code, 302, r.text[:300])
        loc = r.headers["Location"]
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["client_id"], "apache-fp")
        self.assertEqual(q["response_mode"], "form_post")
        r = b.get(loc)
        r = b.login(r, EMAIL, harness.DEMO_PASSWORD)
        self.assertEqual(r.status_code, 200, r.text[:500])
        forms = harness.parse_forms(r.text)
        self.assertEqual(len(forms), 1, r.text[:1000])
        f = forms[0]
        self.assertEqual(f["method"], "post")
        self.assertEqual(f["action"],
                         self.apache.fp_url + "/protected/redirect_uri")
        self.assertEqual(set(f["fields"]) & {"code", "state", "iss"},
                         {"code", "state", "iss"})
        self.assertEqual(f["fields"]["state"], q["state"])
        self.assertNotIn("code=", r.headers.get("Location", ""))
        # The page's CSP must let the form go to the client's origin.
        self.assertIn(self.apache.fp_url,
                      r.headers.get("Content-Security-Policy", ""))
        r = b.submit(r, {})
        r = rp_util.follow(b.s, r)
        self.assertEqual(r.status_code, 200, r.text[:500])
        self.assertIn("protected page", r.text)
        self.assertEqual(r.headers["X-Claim-Email"], EMAIL)

    def test_unauthenticated_is_never_served(self):
        """Without a login the page never shows, and a forged callback is
        refused (no state cookie)."""
        s = requests.Session()
        self.addCleanup(s.close)
        r = s.get(self.apache.url + "/protected/", allow_redirects=False)
        self.assertEqual(r.status_code, 302)
        self.assertNotIn("X-Claim-Sub", r.headers)
        r = s.get(self.apache.url + "/protected/redirect_uri?code=x&state=y"
                  "&iss=" + urllib.parse.quote(self.gw.url, safe=""),
                  allow_redirects=False)
        self.assertNotEqual(r.status_code, 200)
        self.assertNotIn("protected page", r.text)


if __name__ == "__main__":
    unittest.main()
