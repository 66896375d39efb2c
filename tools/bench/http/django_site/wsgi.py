"""The WSGI application (Django REST Framework under gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tools.bench.http.django_site.settings")
application = get_wsgi_application()
