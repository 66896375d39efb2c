"""Settings of blog: read from the environment, `.env` and `.env.<FASTMANGO_ENV>`.

fastmango's own settings (DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG...) are inherited; add yours below.
A field `greeting` here is read from the environment variable FASTMANGO_GREETING.
"""

import fastmango


class Settings(fastmango.Settings):
    project_name: str = "blog"
    greeting: str = "Hello from blog"
