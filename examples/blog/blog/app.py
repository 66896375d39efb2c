"""The ASGI application of blog: `fastmango dev` serves it, `uvicorn blog.app:app` too.

At start-up the app loads blog's models, tools and routes modules by convention (and includes
`routes.router`); the other modules are included here.
"""

from blog import agents, api, assistant  # noqa: F401  (agents.py declares the assistant agent)
from blog.settings import Settings
from fastmango import FastMango

settings = Settings()
app = FastMango(settings=settings)
for router in (api.posts, api.authors, api.tags, assistant.router):
    app.include_router(router)
