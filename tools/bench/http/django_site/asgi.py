"""The ASGI application (Django Ninja under uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tools.bench.http.django_site.settings")
application = get_asgi_application()
