from blog.app import app

from fastmango.testing import app_client


async def test_health() -> None:
    async with app_client(app) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_hello() -> None:
    async with app_client(app) as client:
        response = await client.get("/hello")
    assert response.json() == {"message": "Hello from blog"}
