"""Interoperability: Python authlib (Debian python3-authlib 1.2.0) as the
relying party.

authlib builds the authorization request (PKCE S256), exchanges the code,
refreshes the token and calls UserInfo; authlib.jose with the OIDC claim
classes validates every ID token against the gateway's JWKS (signature,
iss, aud, azp, exp, iat, nonce, at_hash). The harness plays the person
at the login and consent pages.
"""

import secrets
import sys
import time
import unittest
import urllib.parse

import requests

import harness
import rp_util

try:
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import InvalidClaimError
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from authlib.oidc.core import CodeIDToken
except ImportError as e:  # pragma: no cover - environment problem
    raise ImportError(
        "authlib is missing for %s (%s): install python3-authlib and run "
        "the test with Debian's /usr/bin/python3" % (sys.executable, e))

SECRET_BASIC = "authlib-basic-" + "b" * 32
SECRET_POST = "authlib-post-" + "p" * 32
CB = "http://127.0.0.1:9/authlib/callback"  # never contacted
EMAIL = "lena.vogel@example.de"
NAME = "Lena Vogel"


class AuthlibInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # private_key_jwt: authlib signs, the gateway knows the public half.
        cls.rp_key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        clients = [
            {"client_id": "authlib-basic", "client_secret": SECRET_BASIC,
             "token_endpoint_auth_method": "client_secret_basic",
             "redirect_uris": [CB],
             "grant_types": ["authorization_code", "refresh_token"],
             "scope": "openid profile email offline_access"},
            {"client_id": "authlib-post", "client_secret": SECRET_POST,
             "token_endpoint_auth_method": "client_secret_post",
             "redirect_uris": [CB], "id_token_signed_response_alg": "ES256",
             "grant_types": ["authorization_code", "refresh_token"],
             "skip_consent": True},
            {"client_id": "authlib-pkjwt",
             "token_endpoint_auth_method": "private_key_jwt",
             "jwks": {"keys": [cls.rp_key.as_dict(is_private=False)]},
             "redirect_uris": [CB], "skip_consent": True},
            {"client_id": "authlib-public",
             "token_endpoint_auth_method": "none",
             "application_type": "native",
             "redirect_uris": [CB], "skip_consent": True},
        ]
        cls.gw = harness.Gateway(clients=clients,
                                 people=[{"email": EMAIL, "name": NAME}])
        try:
            cls.meta = cls.gw.discovery()
            cls.jwks = JsonWebKey.import_key_set(
                requests.get(cls.meta["jwks_uri"], timeout=5).json())
        except Exception:
            cls.gw.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()

    def run(self, result=None):
        # On failure the gateway's log is the first thing one wants.
        return rp_util.run_with_logs(self, super().run, result,
                                     lambda: self.gw.logs())

    # -- helpers --------------------------------------------------------

    def session(self, client_id, secret=None, method="client_secret_basic",
                scope="openid profile email"):
        client = OAuth2Session(client_id, secret, scope=scope,
                               redirect_uri=CB, code_challenge_method="S256",
                               token_endpoint_auth_method=method)
        self.addCleanup(client.close)
        return client

    def authorize(self, client, verifier, nonce, consent="allow"):
        """authlib's authorization URL through login (and consent) to the
        callback URL the gateway redirects to."""
        url, state = client.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=verifier,
            nonce=nonce)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertEqual(q["code_challenge"],
                         harness.base64.urlsafe_b64encode(
                             harness.hashlib.sha256(verifier.encode())
                             .digest()).rstrip(b"=").decode())
        b = harness.Browser(self.gw)
        self.addCleanup(b.s.close)
        r = b.get(url)
        self.assertEqual(r.status_code, 200, r.text[:300])
        self.assertIn('name="password"', r.text)
        r = b.login(r, EMAIL, harness.DEMO_PASSWORD)
        if r.status_code == 200 and 'value="allow"' in r.text:
            r = b.submit(r, {}, button=("decision", consent))
        self.assertIn(r.status_code, (302, 303), r.text[:500])
        loc = r.headers["Location"]
        self.assertTrue(loc.startswith(CB + "?"), loc)
        return loc, state

    def validate_id_token(self, id_token, client_id, nonce=None,
                          access_token=None, alg="RS256"):
        options = {"iss": {"essential": True, "value": self.gw.url},
                   "aud": {"essential": True, "value": client_id},
                   "sub": {"essential": True},
                   "auth_time": {"essential": True}}
        params = {"client_id": client_id}
        if nonce is not None:
            options["nonce"] = {"essential": True}
            params["nonce"] = nonce
        if access_token is not None:
            options["at_hash"] = {"essential": True}
            params["access_token"] = access_token
        claims = jwt.decode(id_token, self.jwks, claims_cls=CodeIDToken,
                            claims_options=options, claims_params=params)
        claims.validate(leeway=5)
        self.assertEqual(claims.header["alg"], alg)
        self.assertIn("kid", claims.header)
        return claims

    # -- tests ----------------------------------------------------------

    def test_code_flow_userinfo_refresh(self):
        """client_secret_basic, consent, RS256: the whole life of a login."""
        client = self.session("authlib-basic", SECRET_BASIC,
                              scope="openid profile email offline_access")
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        loc, state = self.authorize(client, verifier, nonce)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["state"], state)
        self.assertEqual(q.get("iss"), self.gw.url)  # RFC 9207

        token = client.fetch_token(self.meta["token_endpoint"],
                                   authorization_response=loc,
                                   code_verifier=verifier)
        self.assertEqual(token["token_type"].lower(), "bearer")
        for k in ("access_token", "id_token", "refresh_token", "expires_in"):
            self.assertIn(k, token)
        self.assertEqual(set(token["scope"].split()),
                         {"openid", "profile", "email", "offline_access"})
        claims = self.validate_id_token(token["id_token"], "authlib-basic",
                                        nonce, token["access_token"])
        self.assertEqual(claims["email"], EMAIL)
        self.assertEqual(claims["name"], NAME)
        self.assertIs(claims["email_verified"], True)

        ui = client.get(self.meta["userinfo_endpoint"], timeout=5)
        self.assertEqual(ui.status_code, 200, ui.text)
        self.assertTrue(ui.headers["Content-Type"].startswith(
            "application/json"))
        ui = ui.json()
        self.assertEqual(ui["sub"], claims["sub"])
        self.assertEqual(ui["email"], EMAIL)
        self.assertEqual(ui["name"], NAME)

        time.sleep(1.1)  # so iat of the refreshed ID token moves on
        new = client.refresh_token(self.meta["token_endpoint"],
                                   refresh_token=token["refresh_token"])
        self.assertNotEqual(new["access_token"], token["access_token"])
        # The gateway sends a new ID token on refresh (openid scope);
        # OIDC Core 12.2: same iss, sub, aud, auth_time; newer iat.
        self.assertIn("id_token", new)
        again = self.validate_id_token(new["id_token"], "authlib-basic",
                                       access_token=new["access_token"])
        self.assertEqual(again["sub"], claims["sub"])
        self.assertEqual(again["auth_time"], claims["auth_time"])
        self.assertGreater(again["iat"], claims["iat"])
        ui = client.get(self.meta["userinfo_endpoint"], timeout=5)
        self.assertEqual(ui.status_code, 200, ui.text)
        self.assertEqual(ui.json()["sub"], claims["sub"])

        # The code is single-use; a replay revokes what it was exchanged
        # for (RFC 6749 section 4.1.2), the refreshed tokens included.
        with self.assertRaises(OAuthError) as cm:
            self.session("authlib-basic", SECRET_BASIC).fetch_token(
                self.meta["token_endpoint"], authorization_response=loc,
                code_verifier=verifier)
        self.assertEqual(cm.exception.error, "invalid_grant")
        ui = client.get(self.meta["userinfo_endpoint"], timeout=5)
        self.assertEqual(ui.status_code, 401, ui.text)
        self.assertIn("Bearer", ui.headers.get("WWW-Authenticate", ""))
        with self.assertRaises(OAuthError) as cm:
            client.refresh_token(self.meta["token_endpoint"],
                                 refresh_token=new["refresh_token"])
        self.assertEqual(cm.exception.error, "invalid_grant")

    def test_client_secret_post_es256(self):
        client = self.session("authlib-post", SECRET_POST,
                              method="client_secret_post")
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        loc, _ = self.authorize(client, verifier, nonce)
        token = client.fetch_token(self.meta["token_endpoint"],
                                   authorization_response=loc,
                                   code_verifier=verifier)
        claims = self.validate_id_token(token["id_token"], "authlib-post",
                                        nonce, token["access_token"],
                                        alg="ES256")
        self.assertEqual(claims["email"], EMAIL)

    def test_public_client_pkce(self):
        client = self.session("authlib-public", method="none")
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        loc, _ = self.authorize(client, verifier, nonce)
        token = client.fetch_token(self.meta["token_endpoint"],
                                   authorization_response=loc,
                                   code_verifier=verifier)
        self.validate_id_token(token["id_token"], "authlib-public", nonce,
                               token["access_token"])

    def pkjwt_login(self, key, claims=None):
        """A login of authlib-pkjwt whose token request authenticates with
        authlib's RFC 7523 client assertion (RS256, aud = token endpoint,
        no kid) signed by key; returns (fetch_token callable, nonce)."""
        client = self.session("authlib-pkjwt", key.as_pem(is_private=True),
                              method="private_key_jwt")
        # A fresh dict: authlib stores its jti in it.
        client.register_client_auth_method(
            PrivateKeyJWT(self.meta["token_endpoint"],
                          claims=dict(claims) if claims else None))
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        loc, _ = self.authorize(client, verifier, nonce)
        return (lambda: client.fetch_token(self.meta["token_endpoint"],
                                           authorization_response=loc,
                                           code_verifier=verifier)), nonce

    def test_private_key_jwt(self):
        five_min = {"exp": int(time.time()) + 300}
        fetch, nonce = self.pkjwt_login(self.rp_key, five_min)
        token = fetch()
        self.validate_id_token(token["id_token"], "authlib-pkjwt", nonce,
                               token["access_token"])
        # A key the gateway does not know is refused.
        other = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        fetch, _ = self.pkjwt_login(other, five_min)
        with self.assertRaises(OAuthError) as cm:
            fetch()
        self.assertEqual(cm.exception.error, "invalid_client")

    def test_private_key_jwt_authlib_default_lifetime(self):
        """authlib 1.2.0 signs assertions valid for an hour (its default);
        the gateway accepts up to an hour and remembers the jti until exp."""
        fetch, nonce = self.pkjwt_login(self.rp_key)
        token = fetch()
        self.validate_id_token(token["id_token"], "authlib-pkjwt", nonce,
                               token["access_token"])
        # beyond an hour is still refused, with its reason
        fetch, _ = self.pkjwt_login(self.rp_key,
                                    {"exp": int(time.time()) + 7200})
        with self.assertRaises(OAuthError) as cm:
            fetch()
        self.assertEqual(cm.exception.error, "invalid_client")
        self.assertIn("exp too far in the future", cm.exception.description)

    def test_wrong_code_verifier_rejected(self):
        client = self.session("authlib-post", SECRET_POST,
                              method="client_secret_post")
        verifier = secrets.token_urlsafe(48)
        loc, _ = self.authorize(client, verifier, secrets.token_urlsafe(16))
        with self.assertRaises(OAuthError) as cm:
            client.fetch_token(self.meta["token_endpoint"],
                               authorization_response=loc,
                               code_verifier=secrets.token_urlsafe(48))
        self.assertEqual(cm.exception.error, "invalid_grant")

    def test_validation_catches_a_foreign_nonce(self):
        """The checks above can fail: a nonce from another request does."""
        client = self.session("authlib-post", SECRET_POST,
                              method="client_secret_post")
        verifier = secrets.token_urlsafe(48)
        loc, _ = self.authorize(client, verifier, "nonce-one")
        token = client.fetch_token(self.meta["token_endpoint"],
                                   authorization_response=loc,
                                   code_verifier=verifier)
        with self.assertRaises(InvalidClaimError):
            self.validate_id_token(token["id_token"], "authlib-post",
                                   "nonce-two", alg="ES256")


if __name__ == "__main__":
    unittest.main()
