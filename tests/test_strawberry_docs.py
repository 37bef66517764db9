"""docs/howto/strawberry.md, followed as a new user on Strawberry would follow it.

The page's commands run in order in an empty folder, with its whole files
(docs/howto/strawberry-project/mysite/ and the tutorial's templates/) put in place after
`startproject`, in processes that cannot import graphene: the page must work without it. CI also
runs this file in an environment with Strawberry alone, on the newest Django (.ci/run).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import re
import runpy
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

strawberry = pytest.importorskip("strawberry")

import user_messages.strawberry  # noqa: E402
from tests.test_docs_tutorial import (  # noqa: E402
    ENVIRONMENT,
    TUTORIAL,
    Browser,
    PageScript,
    Project,
    extras_of,
    shell_commands,
    texts,
)
from tests.test_realtime_e2e import RedisServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "howto" / "strawberry.md"
FILES = REPO / "docs" / "howto" / "strawberry-project"
ONLY_SQLITE = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE", "sqlite") != "sqlite",
    reason="a project on its own SQLite database: run with TEST_DATABASE=sqlite",
)

# Put first on PYTHONPATH: `import graphene` (or graphene_django) fails in the project's
# processes as it would where graphene is not installed.
NO_GRAPHENE = """
import importlib.abc, sys

class NoGraphene(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"graphene", "graphene_django"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoGraphene())
"""


def requirements_of(extras: set[str]) -> set[str]:
    """The distributions the package's ``extras`` install, following its self-references."""
    requires = importlib.metadata.requires("django-user-messages-plus") or []
    found: set[str] = set()
    todo, seen = set(extras), set()
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for requirement in requires:
            marker = requirement.partition(";")[2].replace("'", '"')
            if f'extra == "{extra}"' not in marker:
                continue
            name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
            if name == "django-user-messages-plus":
                inner = re.search(r"\[([\w,]+)\]", requirement)
                todo |= set(inner.group(1).split(",")) - seen if inner else set()
            else:
                found.add(name)
    return found


def test_the_page_installs_extras_without_graphene() -> None:
    (install,) = [c for c in shell_commands(PAGE) if c.startswith("pip install ")]
    extras = extras_of(install)

    assert extras == {"strawberry", "realtime"}
    installed = requirements_of(extras)
    assert {"strawberry-graphql", "channels", "channels-redis", "daphne"} <= installed
    assert not {name for name in installed if "graphene" in name}


def test_the_page_s_schema_prints_the_contract() -> None:
    from graphql import print_schema

    schema = runpy.run_path(str(FILES / "mysite" / "schema.py"))["schema"]

    assert print_schema(schema._schema) == (REPO / "schema" / "schema.graphql").read_text()


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A fresh folder and a Redis of its own, where graphene cannot be imported."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run needs it")
        pytest.skip("needs redis-server (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("strawberry")
    blocker = tmp_path_factory.mktemp("no_graphene")
    (blocker / "sitecustomize.py").write_text(NO_GRAPHENE)
    redis = RedisServer(tmp_path_factory.mktemp("strawberry_redis"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env |= {"REDIS_URL": redis.url, "PYTHONPATH": str(blocker)}
    project = Project(folder, env, mysite=FILES / "mysite", templates=TUTORIAL / "templates")
    try:
        yield project
    finally:
        if project.server is not None:
            project.server.terminate()
            project.server.wait(timeout=20)
        redis.stop()


@ONLY_SQLITE
def test_the_strawberry_page_serves_messages_graphql_graphiql_and_the_live_count_without_graphene(
    followed: Project, node: str
) -> None:
    project = followed
    commands = [c for c in shell_commands(PAGE) if not c.startswith(ENVIRONMENT)]
    serve_at = commands.index("python manage.py runserver")
    setup, (live,) = commands[: serve_at + 1], commands[serve_at + 1 :]
    for command in setup:
        project.run(command)
    # The project's own processes really cannot import graphene.
    project.run("python -c \"import importlib.util as u; assert u.find_spec('strawberry')\"")
    with pytest.raises(AssertionError, match="No module named 'graphene_django'"):
        project.run('python -c "import graphene_django"')
    browser = Browser(project.url)

    # The home page shows the message (and delivers it).
    landed, home = browser.sign_in("/admin/login/?next=/", "ada", "strawberry")
    assert landed == project.url + "/"
    assert texts(home) == ["Hello, Strawberry."]

    # GraphiQL's page loads every file from the server.
    _, graphiql = browser.get("/graphiql/")
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', graphiql)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/user_messages/graphiql/"), asset
        assert browser.get(asset)[1]

    # The home page's script shows the live count, then the count after a send.
    events = PageScript(node, project.url + "/", browser)
    try:
        assert events.next() == {"id": "live-count", "text": "0"}
        project.run(live)
        assert events.next() == {"id": "live-count", "text": "1"}
    finally:
        events.stop()

    # The query the page suggests, as GraphiQL sends it (POST + CSRF).
    assert browser.graphql("{ myMessageCount myMessages(peek: true) { message } }") == {
        "data": {"myMessageCount": 1, "myMessages": [{"message": "Live on Strawberry."}]}
    }
    assert "graphene" not in project.log()


def test_a_schema_with_datetime_fields_of_its_own_maps_them_onto_the_package_s_scalar() -> None:
    @strawberry.type
    class Query(user_messages.strawberry.Query):
        @strawberry.field
        def now(self) -> datetime.datetime:
            return datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

    with pytest.raises(Exception, match="DateTime"):
        strawberry.Schema(query=Query)
    schema = strawberry.Schema(
        query=Query, scalar_overrides={datetime.datetime: user_messages.strawberry.DateTime}
    )

    assert schema.execute_sync("{ now }").data == {"now": "2030-01-02T03:04:05+00:00"}
