from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.test import Client

from tests.pgbouncer import django_db_setup  # noqa: F401 (TEST_PGBOUNCER=1: through PgBouncer)
from tests.stacks import GRAPHQL_ACCEPT

# The end-to-end fixtures (a real ASGI server per `server_kind`, the Node clients, a Redis of the
# test's own), for every file that drives a real server.
from tests.test_realtime_e2e import (  # noqa: F401
    node,
    project_env,
    redis_env,
    redis_server,
    server_kind,
    shared_servers,
    start,
)

#: The modules whose tests wait on real processes (servers, Node, Chromium), slowest first.
#: They run first, so that the workers finish together on the quick in-process tests instead of
#: one worker ending the run alone with a slow module's last tests.
SLOW_FIRST = (
    "test_realtime_session.py",
    "test_realtime_e2e.py",
    "test_browser.py",
    "test_clients.py",
    "test_docs_tutorial.py",
    "test_bench.py",
    "test_strawberry_docs.py",
    "test_example_project.py",
    "test_realtime_redis.py",
    "test_realtime_outage.py",
    "test_bench_compare.py",
    "test_hostile_server.py",
)


def _slowness(item: pytest.Item) -> int:
    name = item.path.name
    return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the slow modules first; skip, off SQLite, the tests the engine cannot change."""
    items.sort(key=_slowness)  # stable: each module keeps its order
    if getattr(config.option, "loadgroup", False):
        # pytest-xdist puts "@group" in the node id of an xdist_group test (its hook ran
        # first); where it cannot, the tests of a group would be spread over the workers.
        lost = [
            i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid
        ]
        if lost:
            raise pytest.UsageError(
                f"pytest-xdist ignored the xdist_group of {lost[0]} (and {len(lost) - 1} more): "
                "check the pytest and pytest-xdist versions against pyproject.toml."
            )
    database = os.environ.get("TEST_DATABASE", "sqlite")
    if database == "sqlite":
        return
    skip = pytest.mark.skip(
        reason=f"independent of the database engine: runs with TEST_DATABASE=sqlite, not {database}"
    )
    for item in items:
        if item.get_closest_marker("engine_independent") or not reaches_the_database(item):
            item.add_marker(skip)


#: pytest-django's fixtures that open the test database; without one of them (or the django_db
#: mark) pytest-django blocks every database access, so the test cannot depend on the engine.
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}
)


def reaches_the_database(item: pytest.Item) -> bool:
    """Whether ``item`` may touch the database that TEST_DATABASE names."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & DATABASE_FIXTURES) or item.get_closest_marker("django_db") is not None


@pytest.fixture
def client() -> Client:
    """Django's test client, accepting GraphQL's media type as current GraphQL clients do."""
    return Client(headers=GRAPHQL_ACCEPT)


def _encodable(text: str) -> str:
    """``text`` with what UTF-8 cannot carry (lone surrogates) written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each report sendable from an xdist worker: the hostile-input tests log lone
    surrogates, which execnet cannot encode (the worker crashed with UnicodeEncodeError)."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [(title, _encodable(content)) for title, content in report.sections]
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        if _encodable(text) != text:
            report.longrepr = _encodable(text)


@pytest.fixture
def make_user(db: None) -> Callable[..., AbstractBaseUser]:
    """Create users with unique usernames: make_user(), make_user("alice", is_staff=True)."""
    counter = iter(range(1, 1_000_000))

    def make(username: str | None = None, **fields: Any) -> AbstractBaseUser:
        username = username or f"user{next(counter)}"
        return get_user_model().objects.create_user(username=username, password="pw", **fields)

    return make


@pytest.fixture
def user(make_user: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    return make_user("alice")


@pytest.fixture
def other_user(make_user: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    return make_user("bob")


@pytest.fixture
def alice(client: Client, user: AbstractBaseUser) -> Client:
    """A client signed in as alice, who may not send messages."""
    client.force_login(user)
    return client


@pytest.fixture
def sender(make_user: Callable[..., AbstractBaseUser]) -> Client:
    """A client of its own, signed in as a user holding user_messages.add_message."""
    staff = make_user("sender")
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="user_messages", codename="add_message")
    )
    client = Client(headers=GRAPHQL_ACCEPT)
    client.force_login(staff)
    return client


#: The URLconf that serves each GraphQL stack at /graphql (and its library's own view at
#: /graphql-plain).
STACK_URLCONFS = {
    "graphene": "tests.urls",
    "strawberry": "tests.urls_strawberry",
    # Strawberry behind the package's AsyncGraphQLView: tests marked async_view run there too.
    "strawberry-async": "tests.urls_strawberry_async",
    # Strawberry behind the package's Channels HTTP consumer, for the tests marked async_view.
    "strawberry-channels": "tests.urls_strawberry_channels",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    named = {
        argument.strip()
        for marker in metafunc.definition.iter_markers("parametrize")
        for argument in (
            marker.args[0].split(",") if isinstance(marker.args[0], str) else marker.args[0]
        )
    }
    if "stack" in metafunc.fixturenames and "stack" not in named:
        stacks = list(STACK_URLCONFS)
        if metafunc.definition.get_closest_marker("async_view") is None:
            stacks.remove("strawberry-async")
            stacks.remove("strawberry-channels")
        metafunc.parametrize("stack", stacks, indirect=True)


#: What serves the Strawberry stack in the ``strawberry-channels`` case.
CONSUMER_URLCONF = STACK_URLCONFS["strawberry-channels"]


@pytest.fixture
def stack(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run the test once per GraphQL stack: graphene and Strawberry, each at /graphql.

    Tests marked ``async_view`` run on Strawberry's async view and its Channels HTTP consumer
    as well; for them the fixture still says ``"strawberry"``: the stack is the same, only
    what serves it differs.
    """
    library = "graphene_django" if request.param == "graphene" else "strawberry"
    pytest.importorskip(library)
    if request.param == "strawberry-channels":
        pytest.importorskip("channels")
    settings.ROOT_URLCONF = STACK_URLCONFS[request.param]
    return "graphene" if request.param == "graphene" else "strawberry"
