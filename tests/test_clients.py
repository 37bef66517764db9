"""The docs' front-end snippets: type-checked against types generated from schema/, then run.

GraphQL Code Generator, TypeScript, Apollo Client and urql come from tests/clients/ (npm ci from
the committed lockfile, which .ci/test runs). The snippets are cut out of docs/howto/spa.md, so
the page shows what was checked; Node runs them against the example project on a free port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# The example project (or the tutorial's) runs on a SQLite file of its own whatever
# TEST_DATABASE names: the runs on SQLite (one per Python in .ci/run) cover these.
# One worker runs the module, so that its module-scoped servers and clients start once.
# What the Node clients do depends on our answers, which the Python suites check on every
# Python and Django: CI runs the clients once (version_independent).
pytestmark = [
    pytest.mark.engine_independent,
    pytest.mark.version_independent,
    pytest.mark.xdist_group("clients"),
]


REPO = Path(__file__).resolve().parent.parent
CLIENTS = REPO / "tests" / "clients"
BIN = CLIENTS / "node_modules" / ".bin"
PAGE = REPO / "docs" / "howto" / "spa.md"
CATEGORIES_PAGE = REPO / "docs" / "howto" / "categories.md"
MANAGE = REPO / "example_project" / "manage.py"

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "lib": ["ES2022", "DOM"],
        "noUnusedLocals": True,
        # The libraries' own declarations are theirs to check; ours and the generated code are not.
        "skipLibCheck": True,
    },
}


def page_snippet(name: str, page: Path = PAGE) -> str:
    """The page's TypeScript block whose first line is ``// <name>``."""
    blocks = re.findall(r"```ts\n(// (\S+).*?)```", page.read_text(), re.S)
    found = [code for code, title in blocks if title == name]
    assert len(found) == 1, f"{page.name} needs exactly one ```ts block starting // {name}"
    return found[0]


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A scratch folder inside tests/clients/, so that imports find its node_modules."""
    if not (BIN / "tsc").exists():
        if os.environ.get("CI"):
            pytest.fail("tests/clients/node_modules is missing: .ci/test runs npm ci there")
        pytest.skip("needs npm: run `npm ci` in tests/clients (bash .ci/test does)")
    path = Path(tempfile.mkdtemp(prefix="tmp-", dir=CLIENTS))
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def generated(workdir: Path) -> str:
    """Run the page's codegen.ts over a copy of schema/; return the generated module's text."""
    # Laid out as the page's paths expect: schema/ next to the config, output under src/.
    shutil.copytree(REPO / "schema", workdir / "schema")
    (workdir / "codegen.ts").write_text(page_snippet("codegen.ts"))

    result = run(BIN / "graphql-codegen", "--config", "codegen.ts", cwd=workdir)

    assert result.returncode == 0, result.stdout + result.stderr
    return (workdir / "src" / "gql" / "graphql.ts").read_text()


def type_check(workdir: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``tsc --noEmit --strict`` over the generated module and these files (in src/)."""
    for name, code in files.items():
        (workdir / "src" / name).write_text(code)
    tsconfig = {**TSCONFIG, "files": ["src/gql/graphql.ts", *(f"src/{name}" for name in files)]}
    (workdir / "tsconfig.json").write_text(json.dumps(tsconfig))
    return run(BIN / "tsc", "--noEmit", "--strict", "-p", "tsconfig.json", cwd=workdir)


def test_codegen_maps_the_custom_scalars_and_the_enum_to_precise_types(generated: str) -> None:
    assert "DateTime: { input: string; output: string; }" in generated
    assert (
        "JSONObject: { input: Record<string, unknown>; output: Record<string, unknown>; }"
        in generated
    )
    # Each member follows its description as a doc comment.
    levels = re.search(r"export type MessageLevel =(.*?);", generated, re.S)
    assert levels is not None
    assert re.findall(r"\| '(\w+)'", levels.group(1)) == [
        "DEBUG",
        "ERROR",
        "INFO",
        "SUCCESS",
        "WARNING",
    ]
    assert "/** Something failed (level 40). */" in levels.group(1)
    states = re.search(r"export type MessageState =(.*?);", generated, re.S)
    assert states is not None
    assert re.findall(r"\| '(\w+)'", states.group(1)) == [
        "ACKNOWLEDGED",
        "DELIVERED",
        "EXPIRED",
        "PENDING",
    ]
    assert ": any" not in generated


def test_the_docs_snippets_for_apollo_and_urql_type_check_strictly(
    workdir: Path, generated: str
) -> None:
    result = type_check(
        workdir,
        {"apollo.ts": page_snippet("apollo.ts"), "urql.ts": page_snippet("urql.ts")},
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tab_bar_snippet_of_the_categories_page_type_checks_strictly(
    workdir: Path, generated: str
) -> None:
    snippet = page_snippet("apollo-tabs.ts", CATEGORIES_PAGE)

    result = type_check(workdir, {"apollo-tabs.ts": snippet})

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_rejects_a_client_that_misreads_the_contract(
    workdir: Path, generated: str
) -> None:
    misread = (
        "import type { AcknowledgeAllMessagesMutation, AcknowledgeMessagesMutation, "
        "ArchiveMessagesMutation, MyMessageHistoryQuery, MyMessagesQuery, "
        'UnarchiveMessagesMutation } from "./gql/graphql";\n'
        'export const level: number = ({} as MyMessagesQuery["myMessages"][number]).levelName;\n'
        "export const count: string = "
        '({} as AcknowledgeMessagesMutation["acknowledgeMessages"]).pendingCount;\n'
        "export const cursor: number = "
        '({} as MyMessageHistoryQuery["myMessageHistory"]["edges"][number]).cursor;\n'
        "export const done: string = "
        '({} as AcknowledgeAllMessagesMutation["acknowledgeAllMessages"]).acknowledgedCount;\n'
        "export const archived: string = "
        '({} as ArchiveMessagesMutation["archiveMessages"]).archivedIds;\n'
        "export const back: number = "
        '({} as UnarchiveMessagesMutation["unarchiveMessages"]).unarchivedIds[0];\n'
        "export const label: number = "
        '({} as MyMessagesQuery["myMessages"][number]).actions[0].label;\n'
        "export const archivedAt: number = "
        '({} as MyMessageHistoryQuery["myMessageHistory"]["edges"][number]).node.archivedAt;\n'
    )

    result = type_check(workdir, {"misread.ts": misread})

    assert result.returncode != 0
    assert re.findall(r"src/misread\.ts\(\d+,\d+\): error (TS\d+)", result.stdout) == ["TS2322"] * 8


# Running the snippets


@pytest.fixture(scope="module")
def built(workdir: Path, generated: str) -> Path:
    """The snippets and the generated module compiled to CommonJS, which Node runs as they are."""
    for name in ("apollo.ts", "urql.ts"):
        (workdir / "src" / name).write_text(page_snippet(name))
    (workdir / "src" / "apollo-tabs.ts").write_text(page_snippet("apollo-tabs.ts", CATEGORIES_PAGE))
    build = workdir / "build"
    options = {
        **TSCONFIG["compilerOptions"],
        "noEmit": False,
        "module": "CommonJS",
        "moduleResolution": "Node10",
        "outDir": str(build),
    }
    tsconfig = {
        "compilerOptions": options,
        "files": ["src/gql/graphql.ts", "src/apollo.ts", "src/urql.ts", "src/apollo-tabs.ts"],
    }
    (workdir / "tsconfig.build.json").write_text(json.dumps(tsconfig))

    result = run(BIN / "tsc", "-p", "tsconfig.build.json", cwd=workdir)

    assert result.returncode == 0, result.stdout + result.stderr
    # tests/clients/package.json says "type": "module"; the compiled files are CommonJS.
    (build / "package.json").write_text('{"type": "commonjs"}')
    return build


@pytest.fixture(scope="module", params=["graphene", "strawberry"])
def example(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, str]]]:
    """The example project served on a free port by each GraphQL stack: its URL and environment."""
    if request.param == "strawberry":
        pytest.importorskip("strawberry")
    tmp = tmp_path_factory.mktemp("example_for_clients")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEMO_PUBLIC", "RUN_MAIN"}},
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "DJANGO_DEBUG": "false",
        "GRAPHQL_STACK": request.param,
    }
    subprocess.run(
        [sys.executable, str(MANAGE), "demo", "--no-serve"], env=env, check=True, timeout=120
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (tmp / "server.log").read_text()
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp / "server.log").read_text()
                time.sleep(0.2)
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def user_with_messages(env: dict[str, str], username: str, code: str) -> str:
    """Create a user (password = username) in the example project, send it messages; its id."""
    setup = (
        "from django.contrib.auth import get_user_model; from user_messages import api; "
        f"user = get_user_model().objects.create_user({username!r}, password={username!r}); "
    )
    result = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "-c", f"{setup}{code}; print(user.pk)"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout.split()[-1]


def run_snippet(built: Path, which: str, url: str, username: str, *extra: str) -> dict[str, object]:
    driver = CLIENTS / "run_docs_snippets.cjs"
    result = run("node", driver, built, which, url, username, username, *extra, cwd=CLIENTS)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_the_apollo_snippet_rereads_consuming_lists_and_evicts_what_it_acknowledges(
    built: Path, example: tuple[str, dict[str, str]]
) -> None:
    url, env = example
    user_with_messages(
        env, "apollo", "api.info(user, 'Once.'); api.warning(user, 'Sticky.', deliver_once=False)"
    )

    report = run_snippet(built, "apollo", url, "apollo")

    assert report == {
        "first": ["Once.", "Sticky."],
        # network-only: asked again, and the deliver-once message was delivered the first time.
        "second": ["Sticky."],
        "levels": [["INFO", "muted"], ["WARNING", "alert"]],
        "pendingCount": 0,
        # Evicted from the cached list; the badge's count written from the payload.
        "cachedListAfterAcknowledge": [],
        "cachedCount": 0,
        "requests": [{"method": "POST", "path": "/graphql"}] * 3,
        # Among them Apollo's "Cache data may be lost", had merge: false been missing.
        "warnings": [],
    }


def test_the_urql_snippet_reads_by_post_from_the_network(
    built: Path, example: tuple[str, dict[str, str]]
) -> None:
    url, env = example
    user_with_messages(env, "urql", "api.success(user, 'Once for urql.')")

    report = run_snippet(built, "urql", url, "urql")

    assert report == {
        "first": ["Once for urql."],
        "second": [],
        "requests": [{"method": "POST", "path": "/graphql"}] * 2,
        "warnings": [],
    }


def test_the_apollo_inbox_merges_pages_and_shows_a_live_message_at_the_top(
    built: Path, example: tuple[str, dict[str, str]]
) -> None:
    url, env = example
    # 25 messages: a first page of 20 and a second of 5; 1 to 10 already shown once.
    user_id = user_with_messages(
        env,
        "inbox",
        "[api.info(user, f'History {n}.') for n in range(1, 11)]; "
        "list(api.get_messages(user=user)); "
        "[api.info(user, f'History {n}.') for n in range(11, 26)]",
    )

    report = run_snippet(built, "apollo-inbox", url, "inbox", user_id)

    pending = [f"History {n}. (PENDING)" for n in range(25, 10, -1)]
    delivered = [f"History {n}. (DELIVERED)" for n in range(10, 0, -1)]
    assert report["firstPage"] == {
        "messages": [*pending, *delivered[:5]],
        "hasNextPage": True,
        "pendingCount": 15,
    }
    # fetchMore's page merged after the first by relayStylePagination, not instead of it.
    assert report["merged"] == {
        "messages": [*pending, *delivered],
        "hasNextPage": False,
        "pendingCount": 15,
    }
    # The rise read the new message and the 15 pending ones (delivering them all), then the
    # inbox reloaded from the top, as many as it showed: the new message first.
    assert report["delivered"] == [*(f"History {n}." for n in range(11, 26)), "Breaking news."]
    shown_then = [f"History {n}. (DELIVERED)" for n in range(25, 1, -1)]
    assert report["afterRise"] == {
        "messages": ["Breaking news. (DELIVERED)", *shown_then],
        "hasNextPage": True,
        "pendingCount": 0,
    }
    assert report["counts"] == [15, 16, 0]
    assert report["riseRequests"] == [{"method": "POST", "path": "/graphql"}] * 2
    assert report["warnings"] == []


# The GraphQL over HTTP conformance audit


def test_the_graphql_over_http_audit_passes_every_audit_including_the_mays(
    example: tuple[str, dict[str, str]],
) -> None:
    """graphql-http's auditServer, through the real server, with the CSRF token a page sends.

    Every MAY (a notice when not met) is met, as docs/reference/graphql.md decides them.
    """
    if not (CLIENTS / "node_modules" / "graphql-http").exists():
        if os.environ.get("CI"):
            pytest.fail("tests/clients/node_modules is missing: .ci/test runs npm ci there")
        pytest.skip("needs npm: run `npm ci` in tests/clients (bash .ci/test does)")
    url, _ = example

    result = run("node", CLIENTS / "http_audit.mjs", f"{url}/graphql", cwd=CLIENTS)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "total": 61,
        "counts": {"ok": 61, "notice": 0, "warn": 0, "error": 0},
        "unpassed": [],
    }


def test_the_tab_bar_snippet_counts_per_category_and_reads_one_tab(
    built: Path, example: tuple[str, dict[str, str]]
) -> None:
    url, env = example
    # The example project declares billing, security (critical) and product.
    user_with_messages(
        env,
        "tabs",
        "api.info(user, 'Invoice.', category='billing'); "
        "api.warning(user, 'Sign-in.', category='security', deliver_once=False); "
        "api.info(user, 'Hello.')",
    )

    report = run_snippet(built, "apollo-tabs", url, "tabs")

    assert report == {
        "before": [
            ["billing", "Billing", 1],
            ["security", "Security", 1],
            ["product", "Product news", 0],
            ["", "Other", 1],
        ],
        # Reading the billing tab delivered its message alone.
        "opened": ["Invoice."],
        "after": [
            ["billing", "Billing", 0],
            ["security", "Security", 1],
            ["product", "Product news", 0],
            ["", "Other", 1],
        ],
        "refused": ["The category 'security' is critical: it cannot be turned off."],
        "accepted": [],
        "requests": [{"method": "POST", "path": "/graphql"}] * 5,
        "warnings": [],
    }
