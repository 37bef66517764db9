"""One side of `manage.py bench --compare-python`: the same workloads for whichever package imports.

Run as a script (never imported by the project), once with this project's interpreter and once with
an interpreter whose virtualenv has django-user-messages 1.1. Both packages are imported as
``user_messages``, so this file imports nothing but Django, that package and the tests' thread
harness (tests/threads.py, by its path, Django only): it configures a minimal Django project itself
(a page rendering ``messages``, sessions, auth) on the database the parent created for it, migrates
it with the package's own migrations, and then answers requests, one JSON object a line on stdin,
one JSON answer a line on stdout:

- ``{"op": "setup", "database": {...}, "users": N, "messages": N, "pending_per_user": N}``
- ``{"op": "time", "workload": NAME, "calls": N}``: the wall time of each call, in seconds
- ``{"op": "check", "name": "query_counts" | "exactly_once"}``: correctness figures

The parent alternates the two workers call batch by call batch, so both see the same machine load.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAGE = (
    "<!doctype html><html><head><title>Page</title></head><body>"
    "<h1>Hello {{ user.get_username }}</h1>"
    "{% if messages %}<ul class='messages'>{% for message in messages %}"
    "<li class='{{ message.tags }}'>{{ message }}</li>{% endfor %}</ul>{% endif %}"
    "</body></html>"
)
PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]
#: Statements that only control the transaction; query counts leave them out.
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
BENCH_USER_PREFIX = "bench-"
THREAD_HARNESS = Path(__file__).resolve().parents[4] / "tests" / "threads.py"


#: The context processors a page adds to Django's: the package's, or on a bound page ours below.
PACKAGE_PROCESSOR = "user_messages.context_processors.messages"
STATEMENTS_ONLY_PROCESSOR = "__main__.statements_only"
#: What ``statements_only`` runs, set by ``Worker.workload`` for a bound page.
_statements: list[Callable[[], None]] = []


def statements_only(request: Any) -> dict[str, Any]:
    """Context processor of the bound pages: the package's statements, raw, and nothing else.

    A statement costs more inside a page than alone in a loop, so the bound for a page is that
    page running the statement, not the floor plus the statement's own time.
    """
    for run in _statements:
        run()
    return {}


def templates(*extra: str) -> list[dict[str, Any]]:
    """One engine rendering PAGE with Django's context processors and ``extra`` ones."""
    return [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "context_processors": [*PROCESSORS, *extra],
                # Cached, as Django's default loaders are with DEBUG off.
                "loaders": [
                    (
                        "django.template.loaders.cached.Loader",
                        [("django.template.loaders.locmem.Loader", {"page.html": PAGE})],
                    )
                ],
            },
        }
    ]


def configure(database: dict[str, Any]) -> None:
    """A minimal project: the page, sessions in the database, the package under test."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-a-secret",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DATABASES={"default": database},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "user_messages",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF="__main__",
        TEMPLATES=templates(PACKAGE_PROCESSOR),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()


def page(request: Any) -> Any:
    """The page both targets render: the messages loop, nothing else of weight."""
    from django.shortcuts import render

    return render(request, "page.html")


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("", page)]


def __getattr__(name: str) -> Any:
    # ROOT_URLCONF is this module; the URL patterns are built once Django is set up.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


class Worker:
    """The workloads and checks, on the package this interpreter imports as ``user_messages``."""

    def __init__(self, request: dict[str, Any]) -> None:
        configure(request["database"])
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command
        from django.test import Client, RequestFactory

        call_command("migrate", interactive=False, verbosity=0)
        from user_messages.models import Message

        self.Message = Message
        self.user_model = get_user_model()
        manager = self.user_model._default_manager
        self.page_user = manager.create(username="page-user")
        self.send_user = manager.create(username="send-user")
        client = Client()
        client.force_login(self.page_user)
        # Page views go through Django's WSGI handler as under a server, without the test
        # Client's instrumentation (it records every rendered template and its context).
        self.handler = WSGIHandler()
        self.environ = RequestFactory()._base_environ(
            PATH_INFO="/",
            REQUEST_METHOD="GET",
            HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={client.session.session_key}",
        )
        self.users: int = request["users"]
        self.first_user_id = self._create_bench_users()
        start = time.perf_counter()
        self._generate_messages(request["messages"], request["pending_per_user"])
        self.generate_seconds = time.perf_counter() - start
        # Users whose pending messages have been read once: "nothing pending" from then on.
        self.drained = [self.first_user_id + n for n in range(min(200, self.users))]
        for user_id in self.drained:
            self._get_messages(user_id)
        # The raw floor runs each of those users' statement in the same order as the package's
        # read: one user's index pages, always hot, would make the floor look faster than
        # what the database does for the reads it is compared with.
        self.raw_statements = [self._captured_select(user_id) for user_id in self.drained]
        # The bound pages replay what the package sends for the page's user: its read with
        # nothing pending, and its two statements delivering 5.
        self.page_select = self._captured_select(self.page_user.pk)
        self.delivery = self._captured_delivery()

    def describe(self) -> dict[str, Any]:
        """What this side runs: package, versions, database."""
        import platform
        from importlib.metadata import PackageNotFoundError, version

        import django
        from django.db import connection

        import user_messages

        name = "django-user-messages"
        for candidate in ("django-user-messages-plus", "django-user-messages"):
            try:
                name = f"{candidate} {version(candidate)}"
                break
            except PackageNotFoundError:
                continue
        return {
            "package": name,
            "file": user_messages.__file__,
            "python": platform.python_version(),
            "django": django.get_version(),
            "vendor": connection.vendor,
            "rows": self.Message._default_manager.count(),
            "generate_seconds": self.generate_seconds,
        }

    # -- data ---------------------------------------------------------------------------------

    def _create_bench_users(self) -> int:
        manager = self.user_model._default_manager
        manager.bulk_create(
            [
                self.user_model(username=f"{BENCH_USER_PREFIX}{n:07d}", password="!")
                for n in range(self.users)
            ],
            batch_size=1000,
        )
        ids = list(
            manager.filter(username__startswith=BENCH_USER_PREFIX)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids[-1] - ids[0] + 1 != self.users:
            raise RuntimeError("Bench users did not get consecutive ids.")
        return int(ids[0])

    def _generate_messages(self, rows: int, pending_per_user: int) -> None:
        """Insert ``rows`` in one statement, all delivered but the newest few of each user."""
        from django.db import connection
        from django.utils import timezone

        qn = connection.ops.quote_name
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        delivered_rows = rows - pending_per_user * self.users
        json_text = "'{}'::jsonb" if connection.vendor == "postgresql" else "'{}'"
        # Each package's own columns (1.1 has _metadata text, this project meta JSON and expiry).
        expressions: dict[str, tuple[str, list[Any]]] = {
            "created_at": ("%s", [now]),
            "delivered_at": ("CASE WHEN n < %s THEN %s ELSE NULL END", [delivered_rows, now]),
            "user": ("%s + n %% %s", [self.first_user_id, self.users]),
            "level": ("20", []),
            "message": ("'Benchmark message'", []),
            "extra_tags": ("''", []),
            "meta": (json_text, []),
            "_metadata": ("'{}'", []),
            "deliver_once": ("%s", [True]),
            "expires_at": ("NULL", []),
            # This project's inbox: a delivered deliver-once message was seen when delivered.
            "seen_at": ("CASE WHEN n < %s THEN %s ELSE NULL END", [delivered_rows, now]),
            "acknowledged_at": ("NULL", []),
            # This project's categories: none.
            "category": ("''", []),
            # This project's inbox: nothing archived, no action buttons.
            "archived_at": ("NULL", []),
            "actions": ("'[]'::jsonb" if connection.vendor == "postgresql" else "'[]'", []),
        }
        columns, values, params = [], [], []
        for model_field in self.Message._meta.concrete_fields:
            if model_field.primary_key:
                continue
            sql, field_params = expressions[model_field.name]
            columns.append(qn(model_field.column))
            values.append(sql)
            params.extend(field_params)
        table = qn(self.Message._meta.db_table)
        select = f"SELECT {', '.join(values)} FROM "
        if connection.vendor == "postgresql":
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) {select}"
                "generate_series(0, %s - 1) AS g(n)"
            )
            params.append(rows)
        else:
            sql = (
                "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n + 1 < %s) "
                f"INSERT INTO {table} ({', '.join(columns)}) {select}g"
            )
            params.insert(0, rows)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.execute(f"ANALYZE {table}")

    def _five_pending(self) -> None:
        self.Message._default_manager.bulk_create(
            self.Message(user=self.page_user, level=20, message=f"Pending {n}") for n in range(5)
        )

    def _captured(self, run: Callable[[], object]) -> list[tuple[str, list[Any]]]:
        """The statements ``run`` sends to the driver and their parameters, as sent.

        Transaction control is left out: a replay runs in autocommit, as the package's reads do.
        """
        from django.db import connection

        executed: list[tuple[str, list[Any]]] = []

        def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            if not sql.lstrip().upper().startswith(TRANSACTION_CONTROL):
                executed.append((sql, list(params or ())))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            run()
        return executed

    def _captured_select(self, user_id: int) -> tuple[str, list[Any]]:
        """The SQL and parameters of the package's nothing-pending read, as sent to the driver."""
        executed = self._captured(lambda: self._get_messages(user_id))
        if len(executed) != 1:
            raise RuntimeError(f"Expected one statement for nothing pending, got {executed!r}.")
        return executed[0]

    def _captured_delivery(
        self,
    ) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]], list[int]]:
        """The package's SELECT and claiming UPDATE delivering 5 to the page user, and the ids."""
        self._five_pending()
        pending = self.Message._default_manager.filter(
            user=self.page_user, delivered_at__isnull=True
        )
        ids = sorted(pending.values_list("pk", flat=True))
        executed = self._captured(lambda: self._get_messages(self.page_user.pk))
        if len(executed) != 2 or pending.exists():
            raise RuntimeError(f"Expected two statements delivering 5, got {executed!r}.")
        # The table stays as generated: its size is what the header reports.
        self.Message._default_manager.filter(pk__in=ids).delete()
        select, claim = executed
        return select, claim, ids

    # -- workloads ----------------------------------------------------------------------------

    def _get_messages(self, user: Any) -> int:
        from user_messages import api

        return len(api.get_messages(user=user))

    def _deliver_five(self) -> None:
        shown = self._get_messages(self.page_user.pk)
        if shown != 5:
            raise RuntimeError(f"get_messages showed {shown} of the 5 pending messages.")

    def _view(self) -> str:
        status: list[str] = []
        body = b"".join(self.handler(dict(self.environ), lambda code, headers: status.append(code)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"The page answered {status[0]}.")
        return body.decode()

    def workload(
        self, name: str
    ) -> tuple[Callable[[], object], Callable[[], object] | None, tuple[str, ...]]:
        """The call to time, the untimed setup before each call, and the page's processors."""
        from django.db import connection
        from django.utils import timezone

        from user_messages import api

        drained = itertools.cycle(self.drained)
        raw_statements = itertools.cycle(self.raw_statements)

        def select(statement: tuple[str, list[Any]]) -> None:
            with connection.cursor() as cursor:
                cursor.execute(*statement)
                cursor.fetchall()

        def raw() -> None:
            select(next(raw_statements))

        users = self.user_model._meta
        qn = connection.ops.quote_name
        one_write = (
            f"UPDATE {qn(users.db_table)} SET {qn(users.get_field('last_login').column)} = %s "
            f"WHERE {qn(users.pk.column)} = %s"
        )

        def raw_write() -> None:
            # The cheapest write that commits: what delivering costs at least, whoever delivers.
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            with connection.cursor() as cursor:
                cursor.execute(one_write, [now, self.send_user.pk])

        (select_sql, select_params), (claim_sql, claim_params), claimed = self.delivery

        def raw_delivery() -> None:
            # The package's two statements as it sent them, for the 5 messages that setup has
            # just stored: the same rows read and claimed, the same commit, no Python of ours.
            with connection.cursor() as cursor:
                cursor.execute(select_sql, select_params)
                read = sorted(row[0] for row in cursor.fetchall())
                renumber = dict(zip(claimed, read, strict=True))
                params = [renumber.get(p, p) if type(p) is int else p for p in claim_params]
                cursor.execute(claim_sql, params)
                if cursor.description is not None:
                    cursor.fetchall()
                if cursor.rowcount != len(claimed):
                    raise RuntimeError(f"The replayed claim changed {cursor.rowcount} rows.")

        # The bound pages: the floor page with a processor that runs only these raw statements.
        bounds = {
            "page_raw_empty": [lambda: select(self.page_select)],
            "page_raw_five": [raw_delivery],
        }
        _statements[:] = bounds.get(name, [])
        workloads: dict[str, tuple[Callable[[], object], Callable[[], object] | None]] = {
            "raw_select": (raw, None),
            "raw_write": (raw_write, None),
            "get_messages_empty": (lambda: len(api.get_messages(user=next(drained))), None),
            "get_messages_five": (self._deliver_five, self._five_pending),
            # The same page without user_messages' context processor (see time()).
            "page_floor": (self._view, None),
            "page_empty": (self._view, None),
            "page_five": (self._view, self._five_pending),
            "page_raw_empty": (self._view, None),
            "page_raw_five": (self._view, self._five_pending),
            "send_id": (lambda: api.info(self.send_user.pk, "One"), None),
            "send_user": (lambda: api.info(self.send_user, "One"), None),
        }
        if name == "page_floor":
            processors: tuple[str, ...] = ()
        elif name in bounds:
            processors = (STATEMENTS_ONLY_PROCESSOR,)
        else:
            processors = (PACKAGE_PROCESSOR,)
        return (*workloads[name], processors)

    def time(self, name: str, calls: int) -> list[float]:
        """Seconds of each of ``calls`` calls of workload ``name``."""
        from django.test.utils import override_settings

        run, setup, processors = self.workload(name)
        # Around the whole batch: the engine is rebuilt once, untimed, not per call.
        with override_settings(TEMPLATES=templates(*processors)):
            # Untimed: the batch starts warm, whatever ran before it.
            if setup is not None:
                setup()
            run()
            return _timed(run, setup, calls)

    # -- correctness --------------------------------------------------------------------------

    def query_counts(self) -> dict[str, Any]:
        """Statements of a read with nothing pending, of one delivering 5, and of a send."""
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        from user_messages import api

        def count(run: Callable[[], object]) -> int:
            with CaptureQueriesContext(connection) as context:
                run()
            return len(
                [
                    query
                    for query in context.captured_queries
                    if not query["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
                ]
            )

        user = self.user_model._default_manager.create(username="count-user")
        empty = count(lambda: self._get_messages(user.pk))
        self.Message._default_manager.bulk_create(
            self.Message(user=user, level=20, message=f"Pending {n}") for n in range(5)
        )
        shown: list[int] = []
        five = count(lambda: shown.append(self._get_messages(user.pk)))
        self._five_pending()
        page_shown = self._view().count("<li ")
        send_id = count(lambda: api.info(user.pk, "Counted"))
        send_user = count(lambda: api.info(user, "Counted"))
        unknown = self.user_model._default_manager.order_by("-pk").values_list("pk", flat=True)[0]
        unknown += 1000
        before = self.Message._default_manager.count()
        try:
            with transaction.atomic():
                api.info(unknown, "Nobody")
            outcome = "accepted"
        except Exception as exc:  # 1.1 leaves it to the database's foreign key
            outcome = type(exc).__name__
        written = self.Message._default_manager.count() - before
        return {
            "get_messages_empty": empty,
            "get_messages_five": five,
            "five_shown": shown[0],
            "page_shown": page_shown,
            "send_id": send_id,
            "send_user": send_user,
            "unknown_id": outcome,
            "unknown_id_rows": written,
        }

    def exactly_once(self) -> dict[str, Any]:
        """Writers send, readers read at the same time, each on its own connection."""
        from user_messages import api

        writers, per_writer, readers = 4, 40, 4
        user = self.user_model._default_manager.create(username="concurrent-user")
        shown: list[int] = []
        lock = threading.Lock()
        writers_done = threading.Event()

        def write(writer: int) -> None:
            for index in range(per_writer):
                api.info(user.pk, f"w{writer}-{index}")

        def read() -> None:
            while True:
                finished = writers_done.is_set()
                pks = [message.pk for message in api.get_messages(user=user.pk)]
                with lock:
                    shown.extend(pks)
                if finished:
                    return

        raised = thread_harness().run_writers_then_readers(
            [lambda w=w: write(w) for w in range(writers)],
            [read] * readers,
            writers_done,
            timeout=300,
        )
        errors = [f"{type(exc).__name__}: {exc}" for exc in raised]
        shown.extend(message.pk for message in api.get_messages(user=user.pk))
        sent = set(self.Message._default_manager.filter(user=user).values_list("pk", flat=True))
        times_shown = Counter(shown)
        return {
            "sent": len(sent),
            "shown_once": sum(1 for pk in sent if times_shown[pk] == 1),
            "lost": sum(1 for pk in sent if times_shown[pk] == 0),
            "duplicated": sum(1 for pk in sent if times_shown[pk] > 1),
            "errors": errors[:3],
            "error_count": len(errors),
        }


def thread_harness() -> Any:
    """The tests' writer and reader thread harness, tests/threads.py, loaded by its path.

    In 1.1's virtualenv (run with ``python -I``) this repository is not importable, and its
    ``user_messages`` would be the other package anyway; the harness imports only Django.
    """
    spec = importlib.util.spec_from_file_location("thread_harness", THREAD_HARNESS)
    assert spec is not None
    assert spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    return harness


def _timed(
    run: Callable[[], object], setup: Callable[[], object] | None, calls: int
) -> list[float]:
    times = []
    for _ in range(calls):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Answer the parent's requests until it closes stdin."""
    out = sys.stdout
    # Only answers go to stdout; anything a library prints goes to the parent's stderr.
    sys.stdout = sys.stderr
    worker: Worker | None = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "setup":
                worker = Worker(request)
                answer: dict[str, Any] = {"info": worker.describe()}
            elif worker is None:
                raise RuntimeError("setup must come first")
            elif request["op"] == "time":
                answer = {"times": worker.time(request["workload"], request["calls"])}
            elif request["op"] == "check":
                answer = {"result": getattr(worker, request["name"])()}
            else:
                raise RuntimeError(f"unknown op {request['op']!r}")
        except Exception as exc:
            import traceback

            answer = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
