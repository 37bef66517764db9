"""Settings of the example project: the recommended configuration of django-user-messages-plus.

Everything secret or machine-specific comes from the environment. The defaults are for the
local demo only:

- ``DJANGO_SECRET_KEY``: required in production (the default is public).
- ``DJANGO_DEBUG``: ``true`` (default, demo only) or ``false``.
- ``DJANGO_ALLOWED_HOSTS``: comma-separated, default ``localhost,127.0.0.1,[::1]``.
- ``DATABASE_URL``: ``postgres://USER:PASSWORD@HOST:PORT/NAME`` or ``sqlite:////absolute/path``;
  unset, the demo uses ``example_project/db.sqlite3``.
- ``DATABASE_TRANSACTION_POOLING``: ``true`` when DATABASE_URL is a pooler in transaction mode.
- ``REDIS_URL``: the channel layer's Redis (live updates across processes); or
  ``REDIS_SENTINELS`` (``host:port,host:port,...``) and ``REDIS_SENTINEL_MASTER``: the primary
  that Redis Sentinel names, which survives its failover.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
#: The published GraphQL operations, served verbatim to the single-page app.
GRAPHQL_OPERATIONS_DIR = BASE_DIR.parent / "schema" / "operations"

# Development default: set DJANGO_SECRET_KEY in production.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key")
# True only because this is a local demo; deploy with DJANGO_DEBUG=false.
DEBUG = os.environ.get("DJANGO_DEBUG", "true").lower() in {"1", "true", "yes", "on"}
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")


def _option(value: str) -> str | bool | int:
    """A query value as Django's database OPTIONS expect it: true/false and numbers typed."""
    if value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return int(value) if value.isdigit() else value


def database_from_url(url: str) -> dict[str, Any]:
    """Turn a ``DATABASE_URL`` (postgres:// or sqlite://) into a ``DATABASES`` entry."""
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # e.g. ?sslmode=require, or ?server_side_binding=true&prepare_threshold=5
            "OPTIONS": {key: _option(value) for key, value in parse_qsl(parts.query)},
        }
    if parts.scheme == "sqlite":
        # sqlite:////abs/path.sqlite3 is absolute, sqlite:///rel.sqlite3 relative, as usual.
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path[1:])}
    raise ImproperlyConfigured(
        f"DATABASE_URL has the scheme {parts.scheme!r}, must be one of: postgres, "
        "postgresql, sqlite."
    )


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    }
# Reuse connections across requests: opening one cost ~6 ms a request in the load test, which
# doubled its throughput once connections were kept (DJANGO_CONN_MAX_AGE=0 turns this off).
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DJANGO_CONN_MAX_AGE", "60"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind PgBouncer (or another pooler) in transaction mode, DATABASE_TRANSACTION_POOLING=true:
# a server-side cursor (QuerySet.iterator()) would outlive the transaction that owns it.
# Prepared statements stay off as Django leaves them (no prepare_threshold in DATABASE_URL)
# unless the pooler tracks them (PgBouncer 1.21+ with max_prepared_statements).
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = os.environ.get(
    "DATABASE_TRANSACTION_POOLING", ""
).lower() in {"1", "true", "yes", "on"}

INSTALLED_APPS = [
    # First, so that `runserver` serves ASGI: HTTP and the WebSocket of live updates.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphene_django",
    "user_messages",
    "example_project",
    # The bench, compare, hostile and load-test commands: tooling, not part of the demo.
    "example_project.benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Keep CSRF protection on for /graphql too: the single-page app sends X-CSRFToken.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"

# Live updates (myMessageCount over WebSocket): one process needs no server; several processes
# (or a send from `manage.py shell`) share Redis. REDIS_CHANNEL_PREFIX keeps test runs apart.
if os.environ.get("REDIS_SENTINELS"):
    # The same layer on the primary that Sentinel names: after a failover, redis-py asks the
    # sentinels again and reconnects to the promoted replica; sockets closed by the failover
    # (4503) reconnect by themselves (docs/howto/deploy.md, "Redis Sentinel").
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "sentinels": [
                            (host, int(port))
                            for host, _, port in (
                                address.rpartition(":")
                                for address in os.environ["REDIS_SENTINELS"].split(",")
                            )
                        ],
                        "master_name": os.environ.get("REDIS_SENTINEL_MASTER", "mymaster"),
                        # A sentinel that does not answer must not hang a lookup.
                        "sentinel_kwargs": {"socket_timeout": 1},
                        "max_connections": 1000,
                        "socket_timeout": 10,
                    }
                ],
                "capacity": 20_000,
                "prefix": os.environ.get("REDIS_CHANNEL_PREFIX", "asgi"),
            },
        }
    }
elif os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # max_connections: redis-py's pool refuses a 101st concurrent command by
                # default ("Too many connections"), which a burst of sockets joining their
                # groups reaches. socket_timeout: channels_redis waits for messages in blocking
                # reads of 5 s, and redis-py 8 gives up reading after 5 s by default, just as
                # Redis answers "nothing yet": the idle socket closed with "Timeout reading"
                # (check user_messages.W001). Any value above 5 s works; it also bounds how long
                # a read waits on a Redis that vanished without closing the connection.
                "hosts": [
                    {
                        "address": os.environ["REDIS_URL"],
                        "max_connections": 1000,
                        "socket_timeout": 10,
                    }
                ],
                # channels_redis counts its capacity (default 100) over all the sockets of one
                # process together, and drops what exceeds it: a broadcast to 2,000 sockets
                # lost a third of its wake-ups. Keep it above the sockets one process serves.
                "capacity": 20_000,
                "prefix": os.environ.get("REDIS_CHANNEL_PREFIX", "asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # After Django's processor: it replaces `messages` with one lazy list of the
                # session's messages followed by the user's stored ones (check user_messages.E002).
                "user_messages.context_processors.messages",
            ],
        },
    },
]

# django.contrib.messages drops messages below INFO by default; the demo shows every level.
MESSAGE_LEVEL = message_constants.DEBUG

USER_MESSAGES = {
    # Who may send messages through the GraphQL API's sendMessage (the demo's staff user).
    "SEND_PERMISSION": "user_messages.add_message",
    # Limits on what GraphQL clients may send; the Python API trusts its caller.
    "MAX_MESSAGE_LENGTH": 2000,
    "MAX_EXTRA_TAGS_LENGTH": 200,
    "MAX_META_BYTES": 4096,
    "MAX_RECIPIENTS": 100,
    # A cache alias lets page views of users with nothing pending skip the database. Only name a
    # cache that every worker shares (Redis, Memcached): with a per-process cache one worker
    # would not hear of another's sends. The demo keeps the default, always ask the database.
    "CACHE": None,
    # What messages are about: the SPA shows a tab per category and lets users turn them off
    # (all but the critical one).
    "CATEGORIES": {
        "billing": {"label": _("Billing"), "description": _("Invoices and payments")},
        "security": {
            "label": _("Security"),
            "description": _("Sign-ins and password changes"),
            "critical": True,
        },
        "product": {"label": _("Product news"), "description": _("What is new in the demo")},
    },
}

GRAPHENE = {
    "SCHEMA": "example_project.schema.schema",
}

# Which GraphQL stack serves /graphql (and the live updates): the same contract either way.
GRAPHQL_STACK = os.environ.get("GRAPHQL_STACK", "graphene")
if GRAPHQL_STACK not in ("graphene", "strawberry"):
    raise ImproperlyConfigured(
        f"GRAPHQL_STACK={GRAPHQL_STACK!r}, must be one of: 'graphene', 'strawberry'."
    )
# With GRAPHQL_STACK=strawberry, GRAPHQL_HTTP=channels answers /graphql over HTTP with the
# package's Channels consumer (example_project/asgi.py) instead of its Django view.
GRAPHQL_HTTP = os.environ.get("GRAPHQL_HTTP", "django")
if GRAPHQL_HTTP not in ("django", "channels") or (
    GRAPHQL_HTTP == "channels" and GRAPHQL_STACK != "strawberry"
):
    raise ImproperlyConfigured(
        f"GRAPHQL_HTTP={GRAPHQL_HTTP!r}, must be 'django', or 'channels' with "
        "GRAPHQL_STACK=strawberry."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "classic"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
