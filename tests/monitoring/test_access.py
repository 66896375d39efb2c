"""What the admin learns of a staff user's monitoring rights, to show the pages and buttons they may use."""

from __future__ import annotations

import httpx

from fastmango.auth import User
from tests.auth.conftest import PASSWORD
from tests.monitoring.conftest import staff_headers

ACCESS = "/admin/api/monitoring/access"


async def test_access_says_what_a_staff_user_may_view_and_change(client: httpx.AsyncClient) -> None:
    viewer = await staff_headers(client, "viewer")  # monitoring.view
    assert (await client.get(ACCESS, headers=viewer)).json() == {"view": True, "change": False}
    await (await User.objects.get(username="viewer")).grant("monitoring.change")
    assert (await client.get(ACCESS, headers=viewer)).json() == {"view": True, "change": True}
    bare = await staff_headers(client, "bare", grant=False)
    assert (await client.get(ACCESS, headers=bare)).json() == {"view": False, "change": False}


async def test_access_is_refused_to_anonymous_callers_and_users_who_are_not_staff(client: httpx.AsyncClient) -> None:
    assert (await client.get(ACCESS)).status_code == 401
    await User.objects.create_user("member", PASSWORD)
    token = (await client.post("/auth/token", data={"username": "member", "password": PASSWORD})).json()
    refused = await client.get(ACCESS, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
