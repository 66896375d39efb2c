from __future__ import annotations

import httpx
import pytest

from fastmango import FastMango
from fastmango.auth import Group, User
from fastmango.testing import app_client
from tests.auth.conftest import PASSWORD, bearer, login, make_settings, tokens_for


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["status"] == status
    return body


def assert_unauthorized(response: httpx.Response) -> dict[str, object]:
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    return body


async def test_login_returns_a_token_pair_that_authenticates(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    response = await client.get("/whoami", headers=bearer(tokens["access_token"]))
    assert response.json() == {"username": "ada"}
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["username"] == "ada"
    assert "hashed_password" not in me.text
    assert (await User.objects.get(username="ada")).last_login is not None


async def test_wrong_password_and_unknown_user_get_the_same_answer(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    wrong = await login(client, "ada", "nope")
    unknown = await login(client, "nobody", "nope")
    assert_unauthorized(wrong)
    assert_unauthorized(unknown)
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Incorrect username or password."


async def test_missing_credentials_are_401_problem_details(client: httpx.AsyncClient) -> None:
    body = assert_unauthorized(await client.get("/whoami"))
    assert "Bearer" in str(body["detail"])


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "Bearer", ""])
async def test_malformed_tokens_are_401_never_500(client: httpx.AsyncClient, token: str) -> None:
    assert_unauthorized(await client.get("/whoami", headers={"Authorization": f"Bearer {token}"}))


async def test_a_refresh_token_cannot_be_used_as_an_access_token(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    body = assert_unauthorized(await client.get("/whoami", headers=bearer(tokens["refresh_token"])))
    assert "not an access token" in str(body["detail"])


async def test_refresh_rotates_and_the_old_refresh_token_is_refused(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    first = await tokens_for(client, "ada")
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/whoami", headers=bearer(second["access_token"]))).status_code == 200
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert "revoked" in str(assert_unauthorized(reused)["detail"])


async def test_refresh_with_an_access_token_is_refused(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]}))


async def test_logout_revokes_access_and_refresh_tokens(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    response = await client.post(
        "/auth/logout", headers=bearer(tokens["access_token"]), json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 204
    assert "revoked" in str(assert_unauthorized(await client.get("/whoami", headers=bearer(tokens["access_token"]))))
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
    assert_unauthorized(await client.post("/auth/logout", headers=bearer(tokens["access_token"])))


async def test_a_disabled_user_cannot_log_in_or_use_an_old_token(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    await User.objects.filter(username="ada").update(is_active=False)
    assert_unauthorized(await login(client, "ada"))
    assert_unauthorized(await client.get("/whoami", headers=bearer(tokens["access_token"])))
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))


async def test_require_permission_is_401_anonymous_403_without_it_and_ok_with_it(client: httpx.AsyncClient) -> None:
    user = await User.objects.create_user("ada", password=PASSWORD)
    assert_unauthorized(await client.post("/books"))
    token = (await tokens_for(client, "ada"))["access_token"]
    denied = assert_problem(await client.post("/books", headers=bearer(token)), 403)
    assert denied["permission"] == "book.add"
    assert "book.add" in str(denied["detail"])
    writers = await Group.objects.create(name="writers")
    await writers.grant("book.add")
    await user.add_to_group(writers)
    assert (await client.post("/books", headers=bearer(token))).json() == {"ok": True}


async def test_staff_and_superuser_guards(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("plain", password=PASSWORD)
    await User.objects.create_user("staffer", password=PASSWORD, is_staff=True)
    await User.objects.create_superuser("root", password=PASSWORD)
    plain, staffer, root = [(await tokens_for(client, name))["access_token"] for name in ("plain", "staffer", "root")]
    assert (await client.get("/staff", headers=bearer(plain))).status_code == 403
    assert (await client.get("/staff", headers=bearer(staffer))).status_code == 200
    assert (await client.get("/root", headers=bearer(staffer))).status_code == 403
    assert (await client.get("/root", headers=bearer(root))).status_code == 200
    assert (await client.post("/books", headers=bearer(root))).status_code == 200


async def test_optional_user_is_none_when_anonymous(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    assert (await client.get("/maybe")).json() == {"username": None}
    token = (await tokens_for(client, "ada"))["access_token"]
    assert (await client.get("/maybe", headers=bearer(token))).json() == {"username": "ada"}


async def test_middleware_sets_request_state_user(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    assert (await client.get("/state-user")).json() == {"authenticated": False, "username": ""}
    token = (await tokens_for(client, "ada"))["access_token"]
    assert (await client.get("/state-user", headers=bearer(token))).json() == {"authenticated": True, "username": "ada"}


async def test_login_with_cookie_sets_an_httponly_cookie_that_authenticates(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    response = await client.post("/auth/token?cookie=true", data={"username": "ada", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "fastmango_access=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert (await client.get("/whoami")).json() == {"username": "ada"}


async def test_failed_logins_are_rate_limited_per_username(database_url: str) -> None:
    app = FastMango(settings=make_settings(database_url, auth_login_max_failures=3), configure_logging=False)
    async with app_client(app) as client:
        from sqlmodel import SQLModel

        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["auth_user"]])
        await User.objects.create_user("ada", password=PASSWORD)
        try:
            for _ in range(3):
                assert (await login(client, "ada", "wrong")).status_code == 401
            limited = await login(client, "ada", PASSWORD)
            body = assert_problem(limited, 429)
            assert int(limited.headers["retry-after"]) > 0
            assert body["retry_after"] == int(limited.headers["retry-after"])
        finally:
            await User.objects.all().delete()


async def test_failed_logins_are_rate_limited_per_address(database_url: str) -> None:
    settings = make_settings(database_url, auth_login_max_failures_per_address=2)
    app = FastMango(settings=settings, configure_logging=False)
    async with app_client(app) as client:
        from sqlmodel import SQLModel

        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["auth_user"]])
        assert (await login(client, "a1", "x")).status_code == 401
        assert (await login(client, "a2", "x")).status_code == 401
        assert (await login(client, "a3", "x")).status_code == 429


async def test_openapi_declares_the_password_flow(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/auth/token"
    for path in ("/auth/token", "/auth/refresh", "/auth/logout", "/auth/me"):
        assert path in schema["paths"]


async def test_changing_the_password_ends_every_session(client: httpx.AsyncClient) -> None:
    user = await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    user.set_password("a brand new password")
    await user.save()
    body = assert_unauthorized(await client.get("/whoami", headers=bearer(tokens["access_token"])))
    assert "password changed" in str(body["detail"])
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))


async def test_a_deleted_users_token_does_not_work_for_a_new_user_with_the_same_id(
    client: httpx.AsyncClient,
) -> None:
    mallory = await User.objects.create_user("mallory", password=PASSWORD)
    tokens = await tokens_for(client, "mallory")
    await mallory.delete()
    newcomer = await User.objects.create_superuser("newadmin", password=PASSWORD)
    newcomer.id = mallory.id  # the worst case: the id is reused
    await User.objects.filter(username="newadmin").update(id=mallory.id)
    assert_unauthorized(await client.get("/whoami", headers=bearer(tokens["access_token"])))


async def test_parallel_refreshes_of_one_token_let_only_one_win(client: httpx.AsyncClient) -> None:
    import asyncio

    await User.objects.create_user("ada", password=PASSWORD)
    refresh = (await tokens_for(client, "ada"))["refresh_token"]
    responses = await asyncio.gather(*[client.post("/auth/refresh", json={"refresh_token": refresh}) for _ in range(5)])
    assert sorted(r.status_code for r in responses) == [200, 401, 401, 401, 401]


async def test_parallel_wrong_passwords_cannot_slip_under_the_limit(database_url: str) -> None:
    import asyncio

    app = FastMango(settings=make_settings(database_url, auth_login_max_failures=3), configure_logging=False)
    async with app_client(app) as client:
        from sqlmodel import SQLModel

        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["auth_user"]])
        responses = await asyncio.gather(*[login(client, "ada", f"guess{i}") for i in range(12)])
        assert sorted(r.status_code for r in responses) == [401] * 3 + [429] * 9


async def test_a_nul_byte_in_the_username_is_just_a_failed_login(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await login(client, "al\x00ice", "x"))


@pytest.mark.parametrize("claims", [{"exp": 10**30}, {"sub": str(2**31)}, {"sub": 2**31}, {"sub": "1.0"}], ids=repr)
async def test_a_signed_token_with_claims_out_of_bounds_is_a_401_problem(
    client: httpx.AsyncClient, claims: dict[str, object]
) -> None:
    import datetime

    import jwt

    await User.objects.create_user("ada", password=PASSWORD)
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    payload = {"sub": "1", "jti": "0" * 32, "type": "access", "iat": now, "exp": now + 60, "ver": ""} | claims
    key = make_settings("sqlite://").secret_key.get_secret_value()
    token = jwt.encode(payload, key, algorithm="HS256")
    assert_unauthorized(await client.get("/whoami", headers=bearer(token)))
    refresh = jwt.encode(payload | {"type": "refresh"}, key, algorithm="HS256")
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": refresh}))


@pytest.mark.parametrize("token", ["\\ud800", "a.\\udfff.b", "x" * 5000])
async def test_a_refresh_token_that_is_no_token_is_refused_without_a_500(client: httpx.AsyncClient, token: str) -> None:
    body = '{"refresh_token": "' + token + '"}'  # JSON escapes: a lone surrogate, which httpx would not encode
    response = await client.post("/auth/refresh", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (401, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_reusing_a_refresh_token_revokes_every_token_refreshed_from_it(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    await User.objects.create_user("ada", password=PASSWORD)
    other_session = await tokens_for(client, "ada")
    first = await tokens_for(client, "ada")
    second = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    third = (await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()
    with caplog.at_level(logging.WARNING, logger="fastmango.security"):
        assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    # The thief's and the owner's descendants alike: the session is over.
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}))
    assert_unauthorized(await client.get("/whoami", headers=bearer(third["access_token"])))
    assert_unauthorized(await client.get("/whoami", headers=bearer(second["access_token"])))
    # Other sessions of the user go on, and a new login works.
    assert (await client.get("/whoami", headers=bearer(other_session["access_token"]))).status_code == 200
    assert (
        await client.post("/auth/refresh", json={"refresh_token": other_session["refresh_token"]})
    ).status_code == 200
    await tokens_for(client, "ada")
    events = [r for r in caplog.records if r.name == "fastmango.security"]
    assert len(events) == 1
    assert events[0].__dict__["event"] == "refresh_token_reuse"
    logged = events[0].getMessage() + repr(vars(events[0]))
    for tokens in (first, second, third):
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert token not in logged and token.split(".")[2] not in logged


async def test_a_descendant_issued_before_the_reuse_is_refused_too(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    first = await tokens_for(client, "ada")
    second = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}))


async def test_logout_with_the_access_token_alone_ends_the_session(client: httpx.AsyncClient) -> None:
    await User.objects.create_user("ada", password=PASSWORD)
    tokens = await tokens_for(client, "ada")
    renewed = (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    assert (await client.post("/auth/logout", headers=bearer(renewed["access_token"]))).status_code == 204
    assert_unauthorized(await client.post("/auth/refresh", json={"refresh_token": renewed["refresh_token"]}))
