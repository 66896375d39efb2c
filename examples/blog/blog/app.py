"""The ASGI application of blog: `fastmango dev` serves it, `uvicorn blog.app:app` too."""

from blog import routes
from blog.settings import Settings
from fastmango import FastMango

settings = Settings()
app = FastMango(settings=settings)
app.include_router(routes.router)
