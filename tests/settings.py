"""Settings for the test suite. TEST_DATABASE selects the backend: sqlite, postgresql or mariadb."""

import importlib.util
import os

TEST_DATABASE = os.environ.get("TEST_DATABASE", "sqlite")
# Several suites may run at once on one server (developers, CI): give each its own database.
_suffix = os.environ.get("TEST_DATABASE_SUFFIX", str(os.getpid()))

if TEST_DATABASE == "sqlite":
    # A file, not :memory:, so that the concurrency tests' threads share one database.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": "user_messages_test.sqlite3",
            "TEST": {"NAME": f"/tmp/user_messages_test_{_suffix}.sqlite3"},
            "OPTIONS": {"timeout": 30},
        }
    }
elif TEST_DATABASE == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "postgres",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "TEST": {"NAME": f"test_user_messages_{_suffix}"},
        }
    }
    if os.environ.get("TEST_PG_PREPARED"):
        # The tuning the README's Performance section suggests: psycopg 3 binds parameters on
        # the server and prepares a statement once it has run five times on a connection.
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
    if os.environ.get("TEST_PGBOUNCER"):
        # What Django needs behind a pooler in transaction mode (README, Deploying live
        # updates): a server-side cursor of .iterator() outlives the transaction otherwise.
        # tests/pgbouncer.py starts PgBouncer and points the connections at it.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
elif TEST_DATABASE == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": "test",
            "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("MYSQL_PORT", "3306"),
            "USER": os.environ.get("MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": f"test_user_messages_{_suffix}", "CHARSET": "utf8mb4"},
        }
    }
else:
    raise ValueError(
        f"TEST_DATABASE={TEST_DATABASE!r}, must be one of: sqlite, postgresql, mariadb"
    )

SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Optional: a Strawberry-only environment runs the suite without it (the `stack` fixture).
    *(["graphene_django"] if importlib.util.find_spec("graphene_django") else []),
    "user_messages",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "user_messages.context_processors.messages",
            ]
        },
    }
]

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
if os.environ.get("REDIS_URL"):
    CACHES["redis"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": f"user_messages_tests_{_suffix}",
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
GRAPHENE = {"SCHEMA": "tests.schema.schema"}

# Live updates: one process, so the in-memory channel layer (tests/test_realtime_e2e.py runs
# real servers with channels_redis).
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
