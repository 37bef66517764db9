"""Hostile documents through a real server: the example project under daphne, plain HTTP GETs.

What an anonymous client meets: a document over the limits is refused with the limits' error
in milliseconds, where GraphQL's own rules used to spend a second on it, holding up every
other request of the process.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.stacks import GRAPHQL_ACCEPT
from tests.test_realtime_e2e import Server, project_env  # noqa: F401
from tests.test_validation_cost import comparisons_refused

# The example project on a SQLite file of its own; its daphne is started once for the module.
pytestmark = [pytest.mark.engine_independent, pytest.mark.xdist_group("hostile-server")]


@pytest.fixture(scope="module")
def daphne(project_env: dict[str, str]) -> Iterator[Server]:  # noqa: F811
    server = Server("daphne", project_env)
    yield server
    server.stop()


def get(server: Server, query: str) -> tuple[float, int, dict[str, Any]]:
    """GET /graphql?query=... as current clients ask: the seconds, the status and the JSON body."""
    request = urllib.request.Request(
        f"{server.origin}/graphql?query={quote(query)}", headers=GRAPHQL_ACCEPT
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return time.perf_counter() - start, status, json.loads(body)


def test_a_hostile_get_is_refused_by_the_limits_in_milliseconds(daphne):
    assert get(daphne, "{ myMessageCount }")[1:] == (200, {"data": {"myMessageCount": 0}})
    took = []
    # Distinct documents, so no cache answers. The 1,990 copies of an unknown field
    # now pass no further than the parser's 500th token; 498 copies fit the token limit and
    # meet the comparisons limit, which the linear walk checks before GraphQL's own rules.
    for name in ("a", "b", "c"):
        seconds, status, body = get(daphne, "{" + f" {name}" * 1990 + "}")
        assert (status, body["errors"][0]["message"]) == (
            400,
            "Syntax Error: Document contains more than 500 tokens. Parsing aborted.",
        )
        took.append(seconds)
        seconds, status, body = get(daphne, "{" + f" {name}" * 498 + "}")
        # Each of the 123,753 pairs weighs 2 (a field and its own sub-selection: none).
        assert (status, body) == (400, {"errors": [{"message": comparisons_refused(247_506)}]})
        took.append(seconds)
    # A few milliseconds on an idle machine; GraphQL's own rules took 0.5-1 s on the issue's
    # document before the limits ran first. The fastest of six, for a loaded machine.
    assert min(took) < 0.3
