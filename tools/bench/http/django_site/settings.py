"""Django settings of the benchmark: production-like (DEBUG off), ``startproject``'s middleware, no logging of
requests. Database connections as Django's docs advise for each server: under WSGI (DRF, gunicorn threads)
persistent connections, one per thread; under ASGI (Ninja) no persistent connections (they would leak one per
request) but psycopg's pool, which Django supports since 5.1, of the same size."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from tools.bench.http import common

_url = urlsplit(common.plain_dsn(common.database_url()))

SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["*"]
API = os.environ.get("BENCH_DJANGO_API", "drf")
ROOT_URLCONF = f"tools.bench.http.django_site.urls_{API}"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "tools.bench.http.django_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
        **(
            {"CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"min_size": 1, "max_size": common.pool_size()}}}
            if API == "ninja"
            else {"CONN_MAX_AGE": None}
        ),
    }
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
