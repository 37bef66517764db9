"""The tutorial's settings: what `django-admin startproject` writes, plus the package."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# For trying things out on your machine only: never deploy this key or DEBUG = True.
SECRET_KEY = "django-insecure-tutorial-only-never-deploy-this-key"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "daphne",  # first: `runserver` then serves ASGI, WebSocket included
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphene_django",
    "user_messages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # the GraphQL API relies on it
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",  # the admin checks for it
                "user_messages.context_processors.messages",  # after Django's: it wins
            ],
        },
    },
]

WSGI_APPLICATION = "mysite.wsgi.application"
ASGI_APPLICATION = "mysite.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# E-mail printed to the console, as Django 6.1's startproject writes it (earlier Django
# releases ignore this setting).
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

GRAPHENE = {"SCHEMA": "mysite.schema.schema"}

# Live updates go through Redis, so that a send from any process (`manage.py shell`, Celery,
# cron, another worker) reaches the sockets. Without a Redis, sends still work and log a
# warning; only the live push is lost.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    # redis-py's pool refuses a 101st concurrent command by default.
                    "max_connections": 1000,
                    # Above channels_redis's 5 s blocking read (check user_messages.W001).
                    "socket_timeout": 10,
                }
            ],
            "capacity": 20_000,  # above the sockets one process serves
        },
    }
}
