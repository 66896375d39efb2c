from __future__ import annotations

import base64
import datetime
import json

import jwt
import pytest

from fastmango.auth import NotAuthenticated, TokenService
from tests.auth.conftest import make_settings

SETTINGS = make_settings("sqlite:///:memory:")
KEY = SETTINGS.secret_key.get_secret_value()


def service() -> TokenService:
    return TokenService(SETTINGS)


def test_issued_tokens_carry_the_required_claims() -> None:
    pair = service().issue_pair(42)
    for token, kind in ((pair.access_token, "access"), (pair.refresh_token, "refresh")):
        claims = jwt.decode(token, KEY, algorithms=["HS256"])
        assert claims["sub"] == "42"
        assert claims["type"] == kind
        assert {"exp", "iat", "jti"} <= set(claims)
    assert pair.access_claims.jti != pair.refresh_claims.jti
    assert pair.refresh_claims.expires_at - pair.access_claims.expires_at > datetime.timedelta(days=6)
    assert pair.expires_in == 15 * 60


def test_verify_accepts_a_valid_token() -> None:
    token, claims = service().issue(7, "access")
    assert service().verify(token, "access") == claims


def unsigned(payload: dict[str, object], header: dict[str, str]) -> str:
    def part(data: dict[str, object] | dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def valid_payload() -> dict[str, object]:
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    return {"sub": "1", "jti": "x", "type": "access", "iat": now, "exp": now + 600}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (unsigned(valid_payload(), {"alg": "none", "typ": "JWT"}), "alg none"),
        (jwt.encode(valid_payload(), KEY, algorithm="HS512"), "another algorithm"),
        (jwt.encode(valid_payload(), "another-secret-key-of-sufficient-length!!", algorithm="HS256"), "wrong key"),
        ("not.a.token", "malformed"),
        (jwt.encode({**valid_payload(), "exp": 1}, KEY, algorithm="HS256"), "expired"),
        (jwt.encode({k: v for k, v in valid_payload().items() if k != "jti"}, KEY, algorithm="HS256"), "no jti"),
        (jwt.encode({**valid_payload(), "sub": "admin"}, KEY, algorithm="HS256"), "non-numeric sub"),
    ],
)
def test_bad_tokens_are_refused(token: str, reason: str) -> None:
    with pytest.raises(NotAuthenticated):
        service().verify(token, "access")


def test_a_refresh_token_is_not_an_access_token() -> None:
    token, _ = service().issue(1, "refresh")
    with pytest.raises(NotAuthenticated, match="not an access token"):
        service().verify(token, "access")


def test_expired_token_says_so() -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    token, _ = service().issue(1, "access", now=past)
    with pytest.raises(NotAuthenticated, match="expired"):
        service().verify(token, "access")


def signed(**claims: object) -> str:
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    payload = {"sub": "1", "jti": "0" * 32, "type": "access", "iat": now, "exp": now + 600, "ver": ""} | claims
    return jwt.encode(payload, KEY, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**30},
        {"exp": 2**63},
        {"exp": 1e12},
        {"exp": True},
        {"iat": -(10**30)},
        {"iat": 1.5},
        {"sub": str(2**31)},
        {"sub": "99999999999999999999999"},
        {"sub": "0"},
        {"sub": "-1"},
        {"sub": "1_0"},
        {"sub": " 1"},
        {"sub": "1.5"},
        {"sub": "\uff11"},  # a fullwidth digit
        {"jti": "x" * 65},
        {"jti": ["a"]},
        {"ver": {"a": 1}},
        {"fam": 5},
        {"fam": "f" * 1000},
    ],
    ids=repr,
)
def test_a_token_signed_with_the_key_but_with_claims_out_of_bounds_is_refused(claims: dict[str, object]) -> None:
    with pytest.raises(NotAuthenticated):
        service().verify(signed(**claims), "access")


def test_a_token_living_longer_than_its_type_allows_is_refused() -> None:
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    assert service().verify(signed(iat=now, exp=now + 15 * 60), "access").user_id == 1
    with pytest.raises(NotAuthenticated):
        service().verify(signed(iat=now, exp=now + 15 * 60 + 1), "access")


@pytest.mark.parametrize("token", ["\ud800", "a.\udfff.b", "\x00" * 10])
def test_text_that_is_no_token_is_refused(token: str) -> None:
    with pytest.raises(NotAuthenticated):
        service().verify(token, "refresh")


def test_a_token_without_a_session_claim_is_its_own_session() -> None:
    token = signed()
    claims = service().verify(token, "access")
    assert claims.family == "" and claims.session == f"family:{'0' * 32}"
    pair = service().issue_pair(1)
    assert pair.access_claims.family == pair.refresh_claims.family != ""
    assert service().verify(pair.refresh_token, "refresh").session == pair.access_claims.session
