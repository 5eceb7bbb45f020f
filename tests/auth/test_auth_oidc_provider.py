"""The test OpenID Connect provider (tests/oidc_provider.py) refuses what a real one
refuses, so the browser test's sign-ins passing means Streamlit's client really sent the
client secret, the PKCE verifier, the nonce and the registered redirect URI."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from oidc_provider import OIDCProvider, s256

SECRET = "provider-test-secret"
CALLBACK = "http://127.0.0.1:9/oauth2callback"
VERIFIER = "v" * 43


@pytest.fixture
def idp():
    with OIDCProvider(client_id="app", client_secret=SECRET, redirect_uri=CALLBACK) as idp:
        idp.next_login = {"sub": "u-1", "preferred_username": "ana", "groups": ["support-agents"]}
        yield idp


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as client:
        yield client


def authorize(idp: OIDCProvider, client: httpx.Client, **changes: str) -> httpx.Response:
    params = {"response_type": "code", "client_id": "app", "redirect_uri": CALLBACK, "scope": "openid email",
              "state": "state-1", "nonce": "nonce-1", "code_challenge": s256(VERIFIER),
              "code_challenge_method": "S256", **changes}
    return client.get(f"{idp.issuer}/authorize", params={k: v for k, v in params.items() if v})


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["state-1"]
    return query["code"][0]


def exchange(idp, client, code, *, auth=("app", SECRET), **changes: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER, **changes}
    return client.post(f"{idp.issuer}/token", data=form, auth=auth)


def test_a_code_flow_gives_a_signed_id_token_once(idp, client):
    metadata = client.get(idp.metadata_url).json()
    assert metadata["issuer"] == idp.issuer and metadata["code_challenge_methods_supported"] == ["S256"]
    code = code_of(authorize(idp, client))
    tokens = exchange(idp, client, code).json()
    keys = KeySet.import_key_set(client.get(metadata["jwks_uri"]).json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
    assert (claims["iss"], claims["aud"], claims["sub"], claims["nonce"], claims["groups"]) == (
        idp.issuer, "app", "u-1", "nonce-1", ["support-agents"])
    assert claims["exp"] > claims["iat"]
    assert idp.logins[0].auth_method == "client_secret_basic"
    # A code works once.
    assert exchange(idp, client, code).json()["error"] == "invalid_grant"
    # And a queued person signs in once: the next request has nobody.
    assert authorize(idp, client).headers["location"].startswith(f"{CALLBACK}?error=")


@pytest.mark.parametrize("changes, error", [
    ({"auth": ("app", "wrong-secret")}, "invalid_client"),
    ({"auth": None}, "invalid_client"),
    ({"code_verifier": "w" * 43}, "invalid_grant"),
    ({"code_verifier": ""}, "invalid_grant"),
    ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "invalid_grant"),
])
def test_the_token_endpoint_checks_the_client_the_verifier_and_the_redirect(idp, client, changes, error):
    answer = exchange(idp, client, code_of(authorize(idp, client)), **changes)
    assert answer.status_code in (400, 401) and answer.json()["error"] == error
    assert len(idp.refusals) == 1 and idp.logins == []


@pytest.mark.parametrize("changes", [
    {"code_challenge": ""}, {"code_challenge_method": "plain"}, {"nonce": ""}, {"state": ""},
    {"scope": "email"},
])
def test_authorize_refuses_a_request_without_pkce_nonce_state_or_openid(idp, client, changes):
    assert "error=invalid_request" in authorize(idp, client, **changes).headers["location"]
    assert len(idp.refusals) == 1


def test_authorize_never_redirects_to_an_unknown_client_or_uri(idp, client):
    for changes in ({"client_id": "other"}, {"redirect_uri": "http://evil.example/cb"}):
        answer = authorize(idp, client, **changes)
        assert answer.status_code == 400 and "location" not in answer.headers
