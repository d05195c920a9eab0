"""A relying party written with Authlib (Debian's python3-authlib), driven by
tests/api/oidc_peers.rs against a running Portcullis.

It does what an application built on Authlib does: reads the discovery document and the key
set, sends the person through the authorization endpoint (the sign-in form is posted with
requests, as a browser would), exchanges the code with PKCE, validates the ID token with
Authlib's own OpenID Connect claim checks, calls userinfo, refreshes (rotation, the grace
period, reuse detection), revokes and introspects. Every check that fails exits non-zero with
what was expected and what came back.

Usage: authlib_rp.py BASE CLIENT_ID CLIENT_SECRET EMAIL PASSWORD REDIRECT_URI
"""

import re
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

BASE, CLIENT_ID, SECRET, EMAIL, PASSWORD, REDIRECT = sys.argv[1:7]


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


meta = requests.get(f"{BASE}/.well-known/openid-configuration", timeout=10).json()
check(meta["issuer"] == BASE, f"issuer is the System URL ({meta['issuer']})")
check("S256" in meta["code_challenge_methods_supported"], "S256 is offered")
keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
check(len(keys.keys) >= 1, "the key set parses")

browser = requests.Session()


def authorize(session, nonce, verifier):
    uri, state = session.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier
    )
    r = browser.get(uri, allow_redirects=False)
    location = r.headers["location"]
    if location.startswith("/login"):
        page = browser.get(BASE + location)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = browser.post(
            f"{BASE}/login",
            data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf},
            allow_redirects=False,
        )
        check(r.status_code == 303, "the sign-in form is accepted")
        r = browser.get(BASE + r.headers["location"], allow_redirects=False)
        location = r.headers["location"]
    query = parse_qs(urlparse(location).query)
    check(location.startswith(REDIRECT), "back at the redirect URI")
    check(query["state"] == [state], "state comes back unchanged")
    check(query["iss"] == [BASE], "iss names the provider (RFC 9207)")
    return query["code"][0]


def client(**extra):
    return OAuth2Session(
        CLIENT_ID,
        SECRET,
        scope="openid email profile",
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_basic",
        **extra,
    )


def refused(call, error, what):
    try:
        call()
    except OAuthError as e:
        check(e.error == error, f"{what}: {e.error} ({e.description})")
        return
    check(False, f"{what}: expected {error}, it succeeded")


# The code flow with PKCE, and the ID token as Authlib validates it.
rp = client(code_challenge_method="S256")
nonce = generate_token(20)
verifier = generate_token(48)
code = authorize(rp, nonce, verifier)
token = rp.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier)
claims = jwt.decode(
    token["id_token"],
    keys,
    claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "value": BASE}},
    claims_params={"nonce": nonce, "client_id": CLIENT_ID},
)
claims.validate(leeway=5)
check(claims["email"] == EMAIL, "the ID token names the person")
check(claims["sub"].startswith("client:"), "sub is the stable id, not the email")
check(claims["amr"] == ["pwd"], "amr says a password alone")

info = rp.get(meta["userinfo_endpoint"]).json()
check(info["sub"] == claims["sub"] and info["email"] == EMAIL, "userinfo agrees")

# The same code again is refused, and what it gave is revoked.
refused(
    lambda: client().fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier),
    "invalid_grant",
    "a code used twice",
)
check(
    requests.get(
        meta["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).status_code
    == 401,
    "the reused code's access token is revoked",
)

# PKCE: a wrong verifier is refused; the code still works with the right one.
rp = client(code_challenge_method="S256")
nonce, verifier = generate_token(20), generate_token(48)
code = authorize(rp, nonce, verifier)
refused(
    lambda: client().fetch_token(meta["token_endpoint"], code=code, code_verifier=generate_token(48)),
    "invalid_grant",
    "a wrong PKCE verifier",
)
token = rp.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier)
check("refresh_token" in token, "a refresh token is issued")

# Rotation, the grace period (two tabs refreshing at once), then reuse.
original = token["refresh_token"]
rotated = rp.refresh_token(meta["token_endpoint"], refresh_token=original)
check(rotated["refresh_token"] != original, "the refresh token rotates")
sibling = client().refresh_token(meta["token_endpoint"], refresh_token=original)
check("access_token" in sibling, "the replaced token works once more in its grace period")
refused(
    lambda: client().refresh_token(meta["token_endpoint"], refresh_token=original),
    "invalid_grant",
    "the replaced token a third time (reuse)",
)
refused(
    lambda: client().refresh_token(meta["token_endpoint"], refresh_token=rotated["refresh_token"]),
    "invalid_grant",
    "the family is revoked after reuse",
)

# Revocation and introspection of a fresh sign-in's tokens.
rp = client(code_challenge_method="S256")
nonce, verifier = generate_token(20), generate_token(48)
token = rp.fetch_token(
    meta["token_endpoint"], code=authorize(rp, nonce, verifier), code_verifier=verifier
)
answer = rp.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
check(answer["active"] is True and answer["sub"] == claims["sub"], "introspection: active")
r = rp.revoke_token(
    meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token"
)
check(r.status_code == 200, "revocation answers 200")
answer = rp.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
check(answer == {"active": False}, "introspection after revoking the refresh token: inactive")
print("authlib: every check passed")
