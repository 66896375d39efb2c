"""The ASGI application of blog: `fastmango dev` serves it, `uvicorn blog.app:app` too."""

from blog import agents, api, assistant, routes, tools  # noqa: F401  (tools and agents register on import)
from blog.settings import Settings
from fastmango import FastMango

settings = Settings()
app = FastMango(settings=settings)
app.include_router(routes.router)
for router in (api.posts, api.authors, api.tags, assistant.router):
    app.include_router(router)
