"""Apps 3 and 4: one Django project (settings, models) with two URL configurations, Django REST Framework
(``urls_drf``, served by gunicorn's threaded worker) and Django Ninja with async views (``urls_ninja``,
served by uvicorn through Django's ASGI handler). ``BENCH_DJANGO_API`` (``drf`` or ``ninja``) picks one.
"""
