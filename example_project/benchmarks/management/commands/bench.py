"""`manage.py bench`: print the package's figures (queries, medians, speed-ups) against targets.

Runs in its own throwaway database (see _throwaway.py) on the configured backend: set
DATABASE_URL=postgres://... for PostgreSQL, leave it unset (or sqlite:////path) for SQLite.
Exits non-zero when a target is missed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import platform
import socket
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models.functions import Mod
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from example_project.benchmarks.management.commands._throwaway import throwaway_database
from user_messages import api, validation
from user_messages.conf import conf
from user_messages.models import Message

#: Statements that only control the transaction; the delivery target does not count them.
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
BENCH_USER_PREFIX = "bench-"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BROADCAST_SPEEDUP_TARGET = 50.0
#: A broadcast in a category with opted-out users, over a loop of single sends in it.
CATEGORY_BROADCAST_SPEEDUP_TARGET = 40.0
#: Bench users who turn the bench's category off: every tenth.
OPTED_OUT_EVERY = 10
#: The sections after the large table (which every other one reads), for --only.
SECTIONS = (
    "history_pages",
    "page_views",
    "graphql",
    "graphql_stacks",
    "validation",
    "delivery_statements",
    "cache",
    "sends",
    "category_sends",
    "live_stacks",
)
#: How deep (messages of one user) the history page that must cost what the first costs lies.
HISTORY_DEPTH = 10_000
HISTORY_DEPTH_RATIO_TARGET = 1.2


@dataclass
class Report:
    """Prints one aligned line per figure and remembers which targets were missed."""

    write: Callable[[str], None]
    failures: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        """Start a group of figures."""
        self.write(f"\n{title}\n{'-' * len(title)}")

    def figure(self, what: str, value: str, target: str = "", ok: bool | None = None) -> None:
        """One measured figure; with a target, ``ok`` says whether it was met."""
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        if ok is False:
            self.failures.append(what)
        self.write(f"  {what:<54} {value:<36} {target:<24} {verdict}".rstrip())

    def note(self, text: str) -> None:
        """A line of explanation under the figures."""
        self.write(f"    {text}")


def median_ms(
    run: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None
) -> float:
    """Median wall time of ``run`` in milliseconds; ``setup`` runs untimed before each call."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


@dataclass
class Workload:
    """A call to time, an untimed setup before each call, and a context around each batch."""

    run: Callable[[], object]
    setup: Callable[[], object] | None = None
    around: Callable[[], AbstractContextManager[object]] = nullcontext


def interleaved_medians(
    workloads: dict[str, Workload], repeat: int, rounds: int = 20
) -> dict[str, float]:
    """Median ms of each workload, timed in turns of a few calls each.

    On a shared machine a burst of load then lands on every workload alike, so their ratios
    stay meaningful even when the absolute times move.
    """
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    per_round = max(1, repeat // rounds)
    for _ in range(rounds):
        for name, workload in workloads.items():
            with workload.around():
                for _ in range(per_round):
                    if workload.setup is not None:
                        workload.setup()
                    start = time.perf_counter()
                    workload.run()
                    samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) * 1000 for name, times in samples.items()}


def captured_sql(run: Callable[[], object]) -> list[str]:
    """The SQL statements ``run`` sends to the default database."""
    with CaptureQueriesContext(connection) as context:
        run()
    return [query["sql"] for query in context.captured_queries]


def statements(sql: list[str]) -> list[str]:
    """Drop transaction control (savepoints, BEGIN/COMMIT) from captured SQL."""
    return [query for query in sql if not query.lstrip().upper().startswith(TRANSACTION_CONTROL)]


def ours(sql: list[str]) -> list[str]:
    """The statements that touch the package's table."""
    table = Message._meta.db_table
    return [query for query in sql if table in query]


def summary(sql: list[str]) -> str:
    """Queries as 'N queries (M ours)'."""
    return f"{len(sql)} queries ({len(ours(sql))} ours)"


def redis_reachable() -> bool:
    """Whether something listens on the Redis port; we never leave 127.0.0.1."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = (
        "Benchmark the package in a throwaway database: page views, GraphQL, sends, delivery "
        "statements, the cache, and get_messages on a large table. Exits 1 if a target is missed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--users", type=int, default=10_000, help="Users in the large table and broadcast."
        )
        parser.add_argument(
            "--messages", type=int, default=1_000_000, help="Rows in the large table."
        )
        parser.add_argument(
            "--pending-per-user", type=int, default=3, help="Pending rows per user in it."
        )
        parser.add_argument(
            "--repeat", type=int, default=200, help="Samples per median (page views, sends)."
        )
        parser.add_argument(
            "--loop-users",
            type=int,
            default=None,
            help="Users for the one-send-per-user loop (default: --users).",
        )
        parser.add_argument(
            "--live-rounds",
            type=int,
            default=100,
            help=(
                "Rounds of the send -> event comparison: each sends once through each server "
                "(the floor, graphene, Strawberry). 0 leaves the comparison out."
            ),
        )
        parser.add_argument(
            "--only",
            metavar="SECTION,SECTION",
            default=None,
            help=(
                "Run only these sections after the large table (which they all read): "
                f"{', '.join(SECTIONS)}."
            ),
        )
        parser.add_argument(
            "--validation-tokens",
            metavar="N,N",
            default=None,
            help=(
                "Instead of the figures above, time only the hostile documents, grown to each of "
                "these MAX_QUERY_TOKENS in turn (alternating, best of 15), e.g. 2000,500."
            ),
        )
        parser.add_argument(
            "--acknowledge-all",
            metavar="N",
            type=int,
            default=None,
            help=(
                "Instead of the figures above, time acknowledge_all on one user's N pending "
                "messages, alone and with consuming reads of that user and another started "
                "while it runs."
            ),
        )
        parser.add_argument(
            "--async-reads",
            metavar="N",
            type=int,
            default=None,
            help=(
                "Instead of the figures above, time N calls of each of aget_messages and "
                "get_messages (nothing pending, 5 pending) and apending_count and "
                "pending_count, the forms alternating."
            ),
        )
        parser.add_argument(
            "--compare-python",
            metavar="PATH",
            default=None,
            help=(
                "Instead of the figures above, run the read, page and send workloads and the "
                "correctness checks side by side with this interpreter's django-user-messages "
                "(a virtualenv with django-user-messages==1.1.0), alternating the two."
            ),
        )
        parser.add_argument(
            "--compare-label",
            default="1.1",
            help=(
                "The other side's name in the --compare-python table, for an interpreter with "
                "another version of this package (default: 1.1)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["compare_python"]:
            self._compare(options)
            return
        if options["validation_tokens"]:
            self._validation_tokens(options["validation_tokens"])
            return
        if options["acknowledge_all"]:
            self._acknowledge_all(options["acknowledge_all"])
            return
        if options["async_reads"]:
            self._async_reads(options["async_reads"])
            return
        report = Report(self.stdout.write)
        with throwaway_database("bench_user_messages") as database:
            self._header(database, options)
            # DEBUG off as in production (no query log); the test Client's host is 'testserver'.
            with override_settings(
                DEBUG=False, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]
            ):
                Bench(report, options).run()
        if report.failures:
            raise CommandError(f"{len(report.failures)} target(s) missed: {report.failures}")
        self.stdout.write("\nAll targets met.")

    def _compare(self, options: dict[str, Any]) -> None:
        from example_project.benchmarks.management.commands._compare import compare

        self.stdout.write(
            f"django-user-messages-plus vs django-user-messages on {connection.vendor}, "
            f"{os.cpu_count()} CPUs, {platform.platform()}"
        )
        failures = compare(
            self.stdout.write,
            options["compare_python"],
            users=options["users"],
            messages=options["messages"],
            pending=options["pending_per_user"],
            repeat=options["repeat"],
            label=options["compare_label"],
        )
        if failures:
            raise CommandError(f"{len(failures)} target(s) missed: {failures}")
        self.stdout.write("\nAll targets met.")

    def _acknowledge_all(self, pending: int) -> None:
        from example_project.benchmarks.management.commands._acknowledge_all import (
            acknowledge_all_costs,
        )

        if pending < 1:
            raise CommandError("--acknowledge-all must be at least 1.")
        with throwaway_database("bench_user_messages") as database:
            self.stdout.write(
                f"acknowledge_all on {connection.vendor} (throwaway database "
                f"{database['NAME']}), {os.cpu_count()} CPUs"
            )
            acknowledge_all_costs(self.stdout.write, pending)

    def _async_reads(self, repeat: int) -> None:
        from example_project.benchmarks.management.commands._async_reads import (
            async_read_costs,
        )

        if repeat < 1:
            raise CommandError("--async-reads must be at least 1.")
        with throwaway_database("bench_user_messages") as database:
            self.stdout.write(
                f"Async twins against sync functions on {connection.vendor} (throwaway "
                f"database {database['NAME']}), {repeat} calls each, {os.cpu_count()} CPUs, "
                f"load average {', '.join(f'{load:.1f}' for load in os.getloadavg())}"
            )
            async_read_costs(self.stdout.write, repeat)

    def _validation_tokens(self, limits: str) -> None:
        from graphene_django.settings import graphene_settings

        from example_project.benchmarks.management.commands._validation import (
            worst_at_token_limits,
        )

        try:
            token_limits = [int(limit) for limit in limits.split(",")]
        except ValueError:
            raise CommandError(
                f"--validation-tokens takes numbers like 2000,500, not {limits!r}."
            ) from None
        self.stdout.write(
            f"Hostile documents at MAX_QUERY_TOKENS {limits} (processor time, best of 15, "
            f"load average {', '.join(f'{load:.1f}' for load in os.getloadavg())})"
        )
        schema = graphene_settings.SCHEMA.graphql_schema
        for limit, worst in worst_at_token_limits(schema, token_limits).items():
            self.stdout.write(
                f"  {limit:>6}: worst accepted {worst.accepted_ms:.1f} ms ({worst.accepted}); "
                f"worst refused {worst.refused_ms:.1f} ms ({worst.refused}); "
                f"GraphiQL's introspection query {worst.introspection_ms:.1f} ms"
            )

    def _header(self, database: dict[str, Any], options: dict[str, Any]) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SHOW server_version")
            else:
                cursor.execute("SELECT sqlite_version()")
            server = cursor.fetchone()[0]
        self.stdout.write(
            f"django-user-messages-plus bench on {connection.vendor} {server} "
            f"(throwaway database {database['NAME']})\n"
            f"Python {platform.python_version()}, Django {django.get_version()}, "
            f"{os.cpu_count()} CPUs, {platform.platform()}\n"
            f"Sizes: --users {options['users']} --messages {options['messages']} "
            f"--pending-per-user {options['pending_per_user']} --repeat {options['repeat']}"
        )


class Bench:
    """The measurements, in an order where the large table is in place for all reads."""

    def __init__(self, report: Report, options: dict[str, Any]) -> None:
        self.report = report
        self.users: int = options["users"]
        self.messages: int = options["messages"]
        self.pending_per_user: int = options["pending_per_user"]
        self.repeat: int = options["repeat"]
        self.live_rounds: int = options["live_rounds"]
        self.loop_users: int = options["loop_users"] or self.users
        only = options.get("only")
        self.sections: list[str] = list(SECTIONS) if not only else only.split(",")
        unknown = sorted(set(self.sections) - set(SECTIONS))
        if unknown:
            raise CommandError(f"--only: unknown sections {unknown}, must be among {SECTIONS}.")
        self.user_model = get_user_model()
        self.page_user = self.user_model._default_manager.create(username="page-user")
        self.client = Client()
        self.client.force_login(self.page_user)
        self.graphql_query = (settings.GRAPHQL_OPERATIONS_DIR / "MyMessages.graphql").read_text(
            encoding="utf-8"
        )
        self.page_ours: dict[int, int] = {}
        #: Median page times: "floor" (contrib.messages only), 0 and 5 pending.
        self.page_ms: dict[str | int, float] = {}

    def run(self) -> None:
        """Every measurement, each printing its lines."""
        self.large_table()
        # In SECTIONS' order; live_stacks last: it starts servers and swaps the channel layer
        # for Redis while it runs.
        for section in SECTIONS:
            if section in self.sections:
                getattr(self, section)()

    # -- data ---------------------------------------------------------------------------------

    def create_bench_users(self) -> tuple[int, int]:
        """Create --users users with consecutive ids; return (first id, last id)."""
        self.user_model._default_manager.bulk_create(
            [
                self.user_model(username=f"{BENCH_USER_PREFIX}{number:07d}", password="!")
                for number in range(self.users)
            ],
            batch_size=1000,
        )
        ids = self.user_model._default_manager.filter(username__startswith=BENCH_USER_PREFIX)
        first = ids.order_by("pk").values_list("pk", flat=True).first()
        last = ids.order_by("-pk").values_list("pk", flat=True).first()
        # The generator maps row n to user first + n % users, which needs consecutive ids.
        if first is None or last is None or last - first + 1 != self.users:
            raise CommandError("Bench users did not get consecutive ids; cannot generate rows.")
        return first, last

    def generate_messages(self, first_user_id: int) -> None:
        """Insert --messages rows in one statement: all delivered but the newest few per user."""
        meta = Message._meta
        qn = connection.ops.quote_name
        columns = ", ".join(
            qn(meta.get_field(name).column)
            for name in (
                "created_at",
                "delivered_at",
                "user",
                "level",
                "message",
                "extra_tags",
                "meta",
                "deliver_once",
                "expires_at",
                "seen_at",
                "category",
                "actions",
            )
        )
        # The last pending_per_user * users rows are pending: n % users walks every user. (%% is
        # the modulo operator escaped for the driver's parameter syntax.)
        delivered_rows = self.messages - self.pending_per_user * self.users
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        select = (
            "SELECT %s, CASE WHEN n < %s THEN %s ELSE NULL END, %s + n %% %s, 20, "
            "'Benchmark message', '', {meta}, %s, NULL, "
            "CASE WHEN n < %s THEN %s ELSE NULL END, '', {actions} FROM {source}"
        )
        # Delivered rows were shown when delivered: seen_at as a consuming read writes it.
        params = [now, delivered_rows, now, first_user_id, self.users, True, delivered_rows, now]
        if connection.vendor == "postgresql":
            sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) " + select.format(
                meta="'{}'::jsonb",
                actions="'[]'::jsonb",
                source="generate_series(0, %s - 1) AS g(n)",
            )
            params.append(self.messages)
        else:
            # SQLite has no generate_series by default; a recursive CTE counts just as well.
            sql = (
                "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n + 1 < %s) "
                f"INSERT INTO {qn(meta.db_table)} ({columns}) "
                + select.format(meta="'{}'", actions="'[]'", source="g")
            )
            params.insert(0, self.messages)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            # Fresh statistics, as autovacuum would have them on a table that grew over time.
            cursor.execute(f"ANALYZE {qn(meta.db_table)}")

    # -- measurements -------------------------------------------------------------------------

    def large_table(self) -> None:
        """get_messages latency and plan with --messages rows for --users users."""
        report = self.report
        report.section(
            f"get_messages on a table of {self.messages:,} messages for {self.users:,} users"
        )
        if self.messages < self.pending_per_user * self.users:
            raise CommandError("--messages must be at least --pending-per-user * --users.")
        start = time.perf_counter()
        first, _last = self.create_bench_users()
        users_seconds = time.perf_counter() - start
        start = time.perf_counter()
        self.generate_messages(first)
        rows_seconds = time.perf_counter() - start
        report.figure("setup: create users (bulk_create)", f"{users_seconds:.1f} s")
        report.figure("setup: generate rows (one INSERT ... SELECT)", f"{rows_seconds:.1f} s")

        sample = list(range(first, first + min(self.repeat, self.users)))
        position = iter(sample)
        first_read = median_ms(
            lambda: len(api.get_messages(user=next(position))), repeat=len(sample)
        )
        position = iter(sample)
        again = median_ms(lambda: len(api.get_messages(user=next(position))), repeat=len(sample))
        report.figure(
            f"get_messages, {self.pending_per_user} pending (first read)",
            f"{first_read:.2f} ms median of {len(sample)} users",
        )
        report.figure(
            "get_messages, nothing pending (read again)",
            f"{again:.2f} ms median of {len(sample)} users",
        )
        # The page-view read, LIMIT included. PostgreSQL has the partial index user_pending
        # (pending rows by user and id, migration 0007) and needs no sort with it; SQLite keeps
        # user_delivered_at's equal keys in id order, so that index needs no sort there.
        limit = conf.MAX_MESSAGES_PER_READ
        plan = Message.objects.for_user(first + len(sample)).deliverable()[:limit].explain()
        index = "user_pending" if connection.vendor == "postgresql" else "user_delivered_at"
        sorts = "Sort" in plan or "TEMP B-TREE" in plan
        report.figure(
            "plan of the page-view SELECT: index, sort",
            f"{index if index in plan else 'another index'}, {'sorts' if sorts else 'no sort'}",
            f"{index}, no sort",
            index in plan and not sorts,
        )
        for line in plan.splitlines():
            report.note(line)

    def history_pages(self) -> None:
        """History pages of 20 on the large table: first page and at depth, plans and times."""
        report = self.report
        report.section("History pages of 20 (api.history_page) on the same table")
        # One user whose HISTORY_DEPTH + a page of messages are spread over the whole table, as
        # years of use would leave them: every n-th row changes owner, so the table keeps its
        # size and the other users keep nearly all of theirs. All of them delivered and seen,
        # so that the first page and the deep one return rows alike and differ only in depth.
        deep = self.user_model._default_manager.create(username="history-user")
        # At least every 2nd row: on a small table (--messages) the others keep half of theirs.
        step = max(2, self.messages // (HISTORY_DEPTH + 100))
        start = time.perf_counter()
        now = timezone.now()
        owned = (
            Message.objects.alias(slot=Mod("pk", step))
            .filter(slot=0)
            .update(user_id=deep.pk, delivered_at=now, seen_at=now)
        )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Message._meta.db_table)}")
        report.figure(
            "setup: give one user every n-th row, ANALYZE",
            f"{owned:,} rows (n = {step}), {time.perf_counter() - start:.1f} s",
        )
        depth = max(1, min(HISTORY_DEPTH, owned - 21))
        (boundary,) = api.history(deep).values_list("pk", flat=True)[depth - 1 : depth]
        after = validation.make_history_cursor(boundary)
        typical = Message.objects.exclude(user=deep).values_list("user_id", flat=True).first()

        def first_page() -> None:
            api.history_page(deep, first=20)

        def deep_page() -> None:
            api.history_page(deep, first=20, after=after)

        def typical_page() -> None:
            api.history_page(typical, first=20)

        vendor_sort = "Sort" if connection.vendor == "postgresql" else "TEMP B-TREE"
        for what, page, queryset in (
            ("first page", first_page, api.history(deep)[:21]),
            (f"page at depth {depth:,}", deep_page, api.history(deep).before(boundary)[:21]),
            ("first page, a typical user", typical_page, api.history(typical)[:21]),
        ):
            counted = ours(statements(captured_sql(page)))
            plan = queryset.explain()
            sorts = vendor_sort in plan
            index = "user_history" if "user_history" in plan else "another index"
            report.figure(
                f"{what}: queries, index, sort",
                f"{len(counted)}, {index}, {'sorts' if sorts else 'no sort'}",
                "1, user_history, no sort",
                len(counted) == 1 and index == "user_history" and not sorts,
            )
            for line in plan.splitlines():
                report.note(line)

        def statement(queryset: Any) -> Callable[[], object]:
            # The database's share alone: the statement the page runs, without the ORM.
            sql, params = queryset.query.sql_with_params()

            def run() -> object:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall()

            return run

        medians = interleaved_medians(
            {
                "first": Workload(first_page),
                "deep": Workload(deep_page),
                "typical": Workload(typical_page),
                "first statement": Workload(statement(api.history(deep)[:21])),
                "deep statement": Workload(statement(api.history(deep).before(boundary)[:21])),
            },
            self.repeat,
        )
        ratio = medians["deep"] / medians["first"]
        statement_ratio = medians["deep statement"] / medians["first statement"]
        report.figure(f"first page, {owned:,} messages", f"{medians['first']:.3f} ms median")
        report.figure(
            f"page at depth {depth:,}",
            f"{medians['deep']:.3f} ms median, {ratio:.2f}x the first",
        )
        report.figure(
            f"first page, a user of {Message.objects.filter(user_id=typical).count()} messages",
            f"{medians['typical']:.3f} ms median",
        )
        # The target is on the database's share: what depth could cost (an OFFSET would grow
        # with it). The ORM's share differs by the cursor's one WHERE term, at any depth.
        report.figure(
            "the SELECT alone: page at depth / first page",
            f"{medians['deep statement']:.3f} / {medians['first statement']:.3f} ms, "
            f"{statement_ratio:.2f}x",
            f"<= {HISTORY_DEPTH_RATIO_TARGET}x",
            statement_ratio <= HISTORY_DEPTH_RATIO_TARGET,
        )
        report.note("The rest of a page is the ORM: building the query and 20 Message objects.")

    def page_views(self) -> None:
        """The classic page: 0 and 5 pending, and with Django's context processor only."""
        report = self.report
        report.section("Logged-in page view (test Client, classic page rendering `messages`)")
        client = self.client
        user = self.page_user

        def view() -> None:
            response = client.get("/")
            if response.status_code != 200:
                raise CommandError(f"The classic page answered {response.status_code}.")

        def five_pending() -> None:
            Message.objects.bulk_create(
                Message(user=user, level=20, message=f"Pending {n}") for n in range(5)
            )

        five_pending()
        response = client.get("/")
        # The package's template marks each stored message with its id.
        shown = response.content.decode().count("data-message-id=")
        if shown != 5:
            raise CommandError(f"The page showed {shown} stored messages, expected 5.")

        floor_templates = copy.deepcopy(settings.TEMPLATES)
        for engine in floor_templates:
            processors = engine["OPTIONS"]["context_processors"]
            processors.remove("user_messages.context_processors.messages")
        with override_settings(TEMPLATES=floor_templates):
            floor_sql = captured_sql(view)
        empty_sql = captured_sql(view)
        five_pending()
        five_sql = captured_sql(view)
        medians = interleaved_medians(
            {
                "floor": Workload(
                    view, around=lambda: override_settings(TEMPLATES=floor_templates)
                ),
                "empty": Workload(view),
                "five": Workload(view, setup=five_pending),
            },
            self.repeat,
        )
        floor_ms, empty_ms, five_ms = medians["floor"], medians["empty"], medians["five"]
        self.page_ours = {0: len(ours(empty_sql)), 5: len(ours(statements(five_sql)))}
        self.page_ms = {"floor": floor_ms, 0: empty_ms, 5: five_ms}

        report.figure(
            "floor: django.contrib.messages only", f"{floor_ms:.2f} ms, {summary(floor_sql)}"
        )
        report.figure(
            "user_messages, 0 pending",
            f"{empty_ms:.2f} ms, {summary(empty_sql)}",
            "ours <= 1 query",
            self.page_ours[0] <= 1,
        )
        report.figure(
            "user_messages, 5 pending (deliver-once)",
            f"{five_ms:.2f} ms, {summary(statements(five_sql))}",
            "ours <= 2 statements",
            self.page_ours[5] <= 2,
        )
        report.figure("overhead vs floor, 0 pending", f"{empty_ms / floor_ms:.2f}x")
        report.figure("overhead vs floor, 5 pending", f"{five_ms / floor_ms:.2f}x")

    def graphql(self) -> None:
        """A myMessages round trip through the real /graphql view."""
        report = self.report
        report.section("GraphQL myMessages round trip (POST /graphql, logged-in test Client)")
        client = self.client
        user = self.page_user
        body = json.dumps(
            {"query": self.graphql_query, "operationName": "MyMessages", "variables": {}}
        )
        received: list[int] = []

        def round_trip() -> None:
            response = client.post("/graphql", body, content_type="application/json")
            result = response.json()
            if response.status_code != 200 or result.get("errors"):
                raise CommandError(f"/graphql answered {response.status_code}: {result}")
            received.append(len(result["data"]["myMessages"]))

        def five_pending() -> None:
            Message.objects.bulk_create(
                Message(user=user, level=20, message=f"Pending {n}") for n in range(5)
            )

        floor_body = json.dumps({"query": "query Floor { __typename }"})

        def floor_trip() -> None:
            response = client.post("/graphql", floor_body, content_type="application/json")
            if response.status_code != 200 or response.json() != {"data": {"__typename": "Query"}}:
                raise CommandError(f"/graphql answered {response.status_code}: {response.json()}")

        # What graphene-django's view does on every request before any resolver runs; the
        # package's view does it once per process for each distinct document.
        from graphene_django.settings import graphene_settings
        from graphql import parse, validate

        schema = graphene_settings.SCHEMA.graphql_schema

        def empty_trip() -> None:
            round_trip()
            if received.pop() != 0:
                raise CommandError("myMessages returned messages, expected none.")

        def five_trip() -> None:
            round_trip()
            if received.pop() != 5:
                raise CommandError("myMessages did not return the 5 pending messages.")

        empty_sql = captured_sql(empty_trip)
        five_pending()
        five_sql = statements(captured_sql(five_trip))
        medians = interleaved_medians(
            {
                "floor": Workload(floor_trip),
                "empty": Workload(empty_trip),
                "five": Workload(five_trip, setup=five_pending),
                "document": Workload(lambda: validate(schema, parse(self.graphql_query))),
            },
            self.repeat,
        )
        floor_ms, empty_ms, five_ms = medians["floor"], medians["empty"], medians["five"]
        report.figure("floor: { __typename } through /graphql", f"{floor_ms:.2f} ms")
        for pending, sql, ms in ((0, empty_sql, empty_ms), (5, five_sql, five_ms)):
            report.figure(
                f"myMessages, {pending} pending",
                f"{ms:.2f} ms, {summary(sql)}",
                f"ours = page's ({self.page_ours[pending]})",
                len(ours(sql)) == self.page_ours[pending],
            )
        for pending, ms in ((0, empty_ms), (5, five_ms)):
            page_overhead = self.page_ms[pending] - self.page_ms["floor"]
            report.figure(
                f"myMessages over the GraphQL floor, {pending} pending",
                f"+{ms - floor_ms:.2f} ms (page over its floor: +{page_overhead:.2f} ms)",
            )
        report.figure(
            "parse + validate MyMessages: ours once per process",
            f"{medians['document']:.2f} ms, graphene-django's view: each request",
        )

    def graphql_stacks(self) -> None:
        """myMessages through graphene's and Strawberry's /graphql in turns, per request."""
        report = self.report
        report.section("GraphQL stacks side by side: myMessages, POST, logged-in test Client")
        if importlib.util.find_spec("strawberry") is None:
            report.note("Strawberry is not installed (the strawberry extra): nothing to compare.")
            return
        client = self.client
        user = self.page_user
        body = json.dumps(
            {"query": self.graphql_query, "operationName": "MyMessages", "variables": {}}
        )

        def trip(stack: str, expected: int) -> None:
            response = client.post(f"/graphql-{stack}", body, content_type="application/json")
            result = response.json()
            if response.status_code != 200 or result.get("errors"):
                raise CommandError(f"{stack} answered {response.status_code}: {result}")
            if len(result["data"]["myMessages"]) != expected:
                raise CommandError(f"{stack}: myMessages did not return {expected} messages.")

        def five_pending() -> None:
            Message.objects.bulk_create(
                Message(user=user, level=20, message=f"Pending {n}") for n in range(5)
            )

        stacks = ("graphene", "strawberry")
        workloads = {
            f"{stack} {pending}": Workload(
                partial(trip, stack, pending), setup=five_pending if pending else None
            )
            for pending in (0, 5)
            for stack in stacks
        }
        with override_settings(ROOT_URLCONF="example_project.benchmarks.stack_urls"):
            medians = interleaved_medians(workloads, self.repeat)
        for pending in (0, 5):
            graphene_ms, strawberry_ms = (medians[f"{stack} {pending}"] for stack in stacks)
            report.figure(
                f"myMessages, {pending} pending: graphene, Strawberry",
                f"{graphene_ms:.2f} ms, {strawberry_ms:.2f} ms: {strawberry_ms / graphene_ms:.2f}x",
                "Strawberry <= 1.3x graphene",
                strawberry_ms <= 1.3 * graphene_ms,
            )

    def validation(self) -> None:
        """Parse and validate the most costly documents we know how to build, at the limits."""
        from graphene_django.settings import graphene_settings

        from example_project.benchmarks.management.commands._validation import (
            graphiql_introspection_query,
            hostile_documents,
            validation_ms,
        )

        report = self.report
        report.section(
            "Validation of hostile documents (parse + validate_document, processor time, best of 5)"
        )
        schema = graphene_settings.SCHEMA.graphql_schema
        times = {what: validation_ms(schema, document) for what, document in hostile_documents()}
        for what, ms in times.items():
            report.figure(what, f"{ms:.1f} ms")
        worst = max(times, key=times.__getitem__)
        report.figure("worst validation time", f"{times[worst]:.1f} ms ({worst})")
        # What every GraphiQL page load sends: the yardstick for "costs what a client's does".
        introspection = validation_ms(schema, graphiql_introspection_query())
        report.figure(
            "GraphiQL's introspection query",
            f"{introspection:.1f} ms (worst: {times[worst] / introspection:.1f}x)",
        )

    def delivery_statements(self) -> None:
        """Statements of one get_messages call with 1 and with 50 deliver-once messages."""
        report = self.report
        report.section("Delivery statements of get_messages (transaction control not counted)")
        user = self.user_model._default_manager.create(username="delivery-user")
        for pending in (1, 50):
            Message.objects.bulk_create(
                Message(user=user, level=20, message=f"Once {n}") for n in range(pending)
            )
            shown: list[int] = []
            sql = captured_sql(lambda shown=shown: shown.append(len(api.get_messages(user=user))))
            if shown != [pending]:
                raise CommandError(f"get_messages returned {shown}, expected [{pending}].")
            counted = statements(sql)
            kinds = ", ".join(query.split(None, 1)[0] for query in counted)
            report.figure(
                f"{pending} deliver-once pending",
                f"{len(counted)}: {kinds} (+{len(sql) - len(counted)} tx control)",
                "<= 2 statements",
                len(counted) <= 2,
            )

    def cache(self) -> None:
        """The page view of a user with nothing pending, with the opt-in Redis cache."""
        report = self.report
        report.section("Opt-in cache (USER_MESSAGES['CACHE'] -> Redis 127.0.0.1:6379)")
        if not redis_reachable():
            report.figure("SKIPPED: Redis unreachable at 127.0.0.1:6379", "-")
            return
        prefix = f"bench_user_messages_{os.getpid()}"
        caches = {
            **settings.CACHES,
            "bench_user_messages": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://{REDIS_HOST}:{REDIS_PORT}",
                # A prefix of our own: the cleanup below deletes only keys of this run.
                "KEY_PREFIX": prefix,
            },
        }
        user_messages = {**settings.USER_MESSAGES, "CACHE": "bench_user_messages"}
        client = self.client
        bystander = Client()
        bystander.force_login(self.user_model._default_manager.create(username="bystander"))
        staff = Client()
        staff.force_login(
            self.user_model._default_manager.create(username="bench-staff", is_superuser=True)
        )
        send_body = json.dumps(
            {
                "query": (settings.GRAPHQL_OPERATIONS_DIR / "SendMessage.graphql").read_text(
                    encoding="utf-8"
                ),
                "operationName": "SendMessage",
                "variables": {
                    "input": {
                        "recipients": [str(self.page_user.pk)],
                        "level": "INFO",
                        "message": "To one",
                    }
                },
            }
        )

        def view(as_client: Client = client) -> str:
            response = as_client.get("/")
            if response.status_code != 200:
                raise CommandError(f"The classic page answered {response.status_code}.")
            return response.content.decode()

        def send_to_one() -> None:
            response = staff.post("/graphql", send_body, content_type="application/json")
            result = response.json()
            if result.get("errors") or result["data"]["sendMessage"] != {"count": 1, "errors": []}:
                raise CommandError(f"sendMessage answered {response.status_code}: {result}")

        try:
            with override_settings(CACHES=caches, USER_MESSAGES=user_messages):
                view()  # the first view reads the database and remembers "nothing pending"
                sql = captured_sql(view)
                ms = median_ms(view, self.repeat)
                api.info(self.page_user, "Sent while cached")
                seen = "Sent while cached" in view()
                view(bystander)  # warm: nothing pending for the bystander
                send_to_one()
                api.info([self.page_user.pk], "A list of one")
                bystander_sql = captured_sql(lambda: view(bystander))
        finally:
            _delete_redis_keys(prefix)
        report.figure(
            "page view, nothing pending, cache warm",
            f"{ms:.2f} ms, {summary(sql)}",
            "ours = 0 queries",
            not ours(sql),
        )
        report.figure(
            "a send after warm-up shows on the next view",
            "yes" if seen else "no",
            "shown",
            seen,
        )
        report.figure(
            "bystander's view after sends to one other user",
            summary(bystander_sql),
            "ours = 0 queries",
            not ours(bystander_sql),
        )

    def sends(self) -> None:
        """One send; a broadcast to --users; the same users one send each in a loop."""
        report = self.report
        report.section("Sending")
        single_ms = median_ms(lambda: api.info(self.page_user, "One"), self.repeat)
        report.figure("api.info(user, ...): one send", f"{single_ms:.2f} ms median")
        by_id_ms = median_ms(lambda: api.info(self.page_user.pk, "One"), self.repeat)
        report.figure("api.info(user_id, ...): one send", f"{by_id_ms:.2f} ms median")

        recipients = self.user_model._default_manager.filter(username__startswith=BENCH_USER_PREFIX)
        broadcast_ms = median_ms(lambda: api.info(recipients, "Broadcast"), repeat=3)
        broadcast_rate = self.users / (broadcast_ms / 1000)
        report.figure(
            f"broadcast api.info(QuerySet of {self.users:,} users)",
            f"{broadcast_ms:.0f} ms, {broadcast_rate:,.0f} users/s",
        )

        users = list(recipients.order_by("pk")[: self.loop_users])
        start = time.perf_counter()
        for user in users:
            api.info(user, "Loop")
        loop_seconds = time.perf_counter() - start
        loop_rate = len(users) / loop_seconds
        report.figure(
            f"loop: api.info(user, ...) for {len(users):,} users",
            f"{loop_seconds * 1000:.0f} ms, {loop_rate:,.0f} users/s",
        )
        speedup = broadcast_rate / loop_rate
        report.figure(
            "broadcast speed-up over the loop",
            f"{speedup:.0f}x",
            f">= {BROADCAST_SPEEDUP_TARGET:.0f}x",
            speedup >= BROADCAST_SPEEDUP_TARGET,
        )

    def category_sends(self) -> None:
        """A broadcast in a category that every tenth user turned off, and the loop it beats."""
        from user_messages.models import MessagePreference

        report = self.report
        report.section(
            f"Sending in a category that 1 in {OPTED_OUT_EVERY} users turned off "
            "(NOT EXISTS inside the INSERT ... SELECT)"
        )
        recipients = self.user_model._default_manager.filter(username__startswith=BENCH_USER_PREFIX)
        users = list(recipients.order_by("pk"))
        opted_out = users[::OPTED_OUT_EVERY]
        MessagePreference.objects.bulk_create(
            [MessagePreference(user=user, category="bench", enabled=False) for user in opted_out],
            batch_size=1000,
        )
        declared = {**conf.CATEGORIES, "bench": {"label": "Bench"}}
        with override_settings(USER_MESSAGES={**settings.USER_MESSAGES, "CATEGORIES": declared}):
            counts: list[int] = []
            broadcast_ms = median_ms(
                lambda: counts.append(api.info(recipients, "Broadcast", category="bench")),
                repeat=3,
            )
            expected = len(users) - len(opted_out)
            broadcast_rate = len(users) / (broadcast_ms / 1000)
            report.figure(
                f"broadcast api.info(QuerySet of {len(users):,} users, category=...)",
                f"{broadcast_ms:.0f} ms, {broadcast_rate:,.0f} users/s, stored {counts[0]:,}",
                f"stored = {expected:,}",
                set(counts) == {expected},
            )
            looped = users[: self.loop_users]
            start = time.perf_counter()
            stored = sum(api.info(user, "Loop", category="bench") is not None for user in looped)
            loop_seconds = time.perf_counter() - start
            loop_rate = len(looped) / loop_seconds
            report.figure(
                f"loop: api.info(user, ..., category=...) for {len(looped):,} users",
                f"{loop_seconds * 1000:.0f} ms, {loop_rate:,.0f} users/s, stored {stored:,}",
            )
            speedup = broadcast_rate / loop_rate
            report.figure(
                "category broadcast speed-up over the loop",
                f"{speedup:.0f}x",
                f">= {CATEGORY_BROADCAST_SPEEDUP_TARGET:.0f}x",
                speedup >= CATEGORY_BROADCAST_SPEEDUP_TARGET,
            )

    def live_stacks(self) -> None:
        """Send -> event latency through each stack's socket and the floor, in turns."""
        report = self.report
        report.section(
            "Live updates side by side: send -> event, one daphne each, Redis layer, graphql-ws"
        )
        if self.live_rounds <= 0:
            report.note("Left out (--live-rounds 0).")
            return
        missing = _live_missing()
        if missing:
            report.note(f"Left out: {missing}.")
            return
        from channels.layers import channel_layers

        from example_project.benchmarks.management.commands._realtime import (
            RealtimeBench,
            percentile,
        )

        sockets = 10
        servers = {
            "floor": ("example_project.benchmarks.floor_asgi:application", {}),
            "graphene": ("example_project.asgi:application", {"GRAPHQL_STACK": "graphene"}),
            "strawberry": ("example_project.asgi:application", {"GRAPHQL_STACK": "strawberry"}),
        }
        # Settings assigned inside override_settings() are undone when it ends.
        with override_settings():
            live = RealtimeBench(
                lambda line: None,
                {"processes": 1},
                _database_url(connection.settings_dict),
            )
            try:
                latencies = live.side_by_side(servers, sockets, self.live_rounds)
            finally:
                channel_layers.backends.clear()
        p50 = {name: percentile(values, 50) for name, values in latencies.items()}
        p99 = {name: percentile(values, 99) for name, values in latencies.items()}
        for name in servers:
            report.figure(
                f"send -> event, {name} ({len(latencies[name])} sends)",
                f"p50 {p50[name]:.1f} ms, p99 {p99[name]:.1f} ms",
            )
        ratio = p50["strawberry"] / p50["graphene"]
        report.figure(
            "send -> event p50: Strawberry / graphene",
            f"{ratio:.2f}x (over the floor: graphene {p50['graphene'] - p50['floor']:+.1f} ms, "
            f"Strawberry {p50['strawberry'] - p50['floor']:+.1f} ms)",
            "Strawberry <= 1.3x graphene",
            ratio <= 1.3,
        )
        report.note(
            f"The floor: session auth, the package's group fan-out, one count query, one frame, "
            f"and no GraphQL (example_project/benchmarks/floor_asgi.py). {sockets} sockets per "
            "server; each round sends once to each server in a rotating order."
        )


def _live_missing() -> str:
    """What the send -> event comparison needs and this machine lacks, or ""."""
    for module, extra in (
        ("strawberry", "the strawberry extra"),
        ("daphne", "the realtime extra"),
        ("channels_redis", "the realtime extra"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({extra})"
    from example_project.benchmarks.management.commands._realtime import DRIVER

    if not (DRIVER.parent / "node_modules" / "graphql-ws").exists():
        return "the Node clients are not installed (npm ci in tests/clients)"
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as error:
        return f"no Redis at REDIS_URL {url} ({error})"
    return ""


def _database_url(database: dict[str, Any]) -> str:
    """A DATABASE_URL the example's settings read back as this database."""
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(database['NAME']).resolve()}"
    user = quote(database.get("USER") or "", safe="")
    password = quote(database.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or "127.0.0.1"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(database['NAME'], safe='')}"


def _delete_redis_keys(prefix: str) -> None:
    """Remove this run's cache keys (never FLUSHDB: the Redis may be shared)."""
    try:
        import redis
    except ImportError:
        return
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
