from blog.models import Author, Post

from fastmango.testing import capture_queries


async def test_health(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_hello(client) -> None:
    response = await client.get("/hello")
    assert response.json() == {"message": "Hello from blog"}


async def test_latest_posts_lists_published_posts_with_authors_in_one_query(client) -> None:
    ada = await Author.objects.create(name="Ada")
    await Post.objects.create(title="Draft", author_id=ada.id)
    await Post.objects.create(title="Engines", author_id=ada.id, published=True)
    with capture_queries() as queries:
        response = await client.get("/posts/latest")
    assert response.status_code == 200
    assert [(p["title"], p["author"]["name"]) for p in response.json()] == [("Engines", "Ada")]
    assert len(queries) == 1


async def test_author_stats_count_published_posts(client) -> None:
    ada = await Author.objects.create(name="Ada")
    bob = await Author.objects.create(name="Bob")
    await Post.objects.bulk_create(
        [
            Post(title="a1", author_id=ada.id, published=True),
            Post(title="a2", author_id=ada.id, published=True),
            Post(title="b1", author_id=bob.id, published=False),
        ]
    )
    response = await client.get("/authors/stats")
    assert response.json() == [
        {"id": ada.id, "name": "Ada", "n_posts": 2},
        {"id": bob.id, "name": "Bob", "n_posts": 0},
    ]
