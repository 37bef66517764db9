"""A document costs validation milliseconds: the limits are checked first, in one linear walk.

GraphQL's specified rules are quadratic in places (OverlappingFieldsCanBeMerged compares every
pair of fields answering one response name), so the package refuses what would make them
slow before they run, over HTTP (the real view) and over WebSocket (the real consumer, which
also checks documents off the event loop so other sockets are answered meanwhile).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from graphql import Source

from tests import test_realtime
from tests.test_realtime import connected, fresh_channel_layer, run  # noqa: F401
from user_messages.conf import conf

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("stack")

T = TypeVar("T")

FIELDS_REFUSED = (
    "The operation selects more than 500 fields; each alias and each fragment spread counts."
)


@pytest.fixture(autouse=True)
def _room_for_the_limits_after_parsing(settings: Any) -> None:
    """The token limit of 2.0's first drafts (and of a host that raises it): 2,000.

    At the default of 500 the parser refuses these documents before any later limit is reached;
    these tests show that a host who allows more tokens still gets the later limits first.
    """
    settings.USER_MESSAGES = {"MAX_QUERY_TOKENS": 2000}


def post_query(client: Client, query: str) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/graphql", json.dumps({"query": query}), content_type="application/json"
    )
    return response.status_code, response.json()


def comparisons_refused(count: int) -> str:
    return (
        f"The document repeats response names too often: validating it would compare fields "
        f"{count} times, more than the limit of 1000. Select each field once per selection "
        "set, or alias the repeats apart."
    )


@pytest.mark.django_db
def test_a_document_over_the_fields_limit_gets_only_that_error(client):
    # The document: one unknown field 1,990 times, under the token limit. GraphQL's
    # own rules used to run first (0.5 s), adding "Cannot query field" errors and an abort.
    status, body = post_query(client, "{" + " a" * 1990 + "}")

    assert (status, body) == (
        400,
        {"errors": [{"message": FIELDS_REFUSED, "locations": [{"line": 1, "column": 1}]}]},
    )


@pytest.mark.django_db
def test_repeats_of_one_response_name_pass_up_to_max_query_comparisons(client):
    # 32 copies: 496 pairs, each comparing a field of weight 1 with another: 992 comparisons.
    status, body = post_query(client, "{" + " myMessageCount" * 32 + "}")
    assert (status, body) == (200, {"data": {"myMessageCount": 0}})

    status, body = post_query(client, "{" + " x: myMessageCount" * 33 + "}")
    assert (status, body["errors"]) == (400, [{"message": comparisons_refused(1056)}])


@pytest.mark.django_db
def test_max_query_comparisons_is_read_from_the_setting(client, settings):
    settings.USER_MESSAGES = {**settings.USER_MESSAGES, "MAX_QUERY_COMPARISONS": 2}

    assert post_query(client, "{ myMessageCount myMessageCount }")[0] == 200
    status, body = post_query(client, "{ myMessageCount myMessageCount myMessageCount }")
    assert status == 400
    assert body["errors"][0]["message"].startswith(
        "The document repeats response names too often: validating it would compare fields 6 "
    )


@pytest.mark.django_db
def test_repeats_inside_nested_selections_count_along_their_path(client):
    # 6 x 6 copies of `message` meet at the path myMessages.message: 630 pairs.
    query = "{" + (" myMessages(peek: true) {" + " message" * 6 + " }") * 6 + "}"

    status, body = post_query(client, query)

    assert status == 400
    assert body["errors"][0]["message"].startswith("The document repeats response names too often")


@pytest.mark.django_db
def test_fragments_spread_side_by_side_are_compared_pairwise(client):
    # Each fragment selects a field of its own, yet GraphQL compares every pair of them.
    fragments = "".join(f" fragment F{i} on Query {{ f{i}: myMessageCount }}" for i in range(60))
    query = "{" + "".join(f" ...F{i}" for i in range(60)) + "}" + fragments

    status, body = post_query(client, query)

    assert status == 400
    assert body["errors"][0]["message"].startswith("The document repeats response names too often")


@pytest.mark.django_db
def test_an_unused_fragment_counts_against_the_limits_too(client):
    # GraphQL validates fragments no operation spreads: its fields used to count nowhere.
    query = "{ myMessageCount } fragment U on Query {" + " a" * 600 + " }"

    status, body = post_query(client, query)

    assert (status, body["errors"]) == (
        400,
        [
            {
                "message": "Fragment 'U' selects more than 500 fields;"
                " each alias and each fragment spread counts.",
                "locations": [{"line": 1, "column": 20}],
            }
        ],
    )


@pytest.mark.django_db
def test_operations_together_cannot_select_more_than_max_query_fields(client):
    query = "".join(f" query Q{i} {{ a b }}" for i in range(251))

    status, body = post_query(client, query)

    assert status == 400
    assert body["errors"][0]["message"] == (
        "The operations and fragments of the document select more than 500 fields together;"
        " each alias and each fragment spread counts."
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ...A } fragment A on Query { myMessageCount ...A }",
        "{ myMessageCount } fragment A on Query { myMessageCount } fragment A on Query { x }",
    ],
)
def test_cycles_and_duplicate_fragments_still_get_graphqls_own_errors(client, query):
    from graphql import parse, validate

    from tests.schema import schema

    status, body = post_query(client, query)

    assert status == 400
    assert [error["message"] for error in body["errors"]] == [
        error.message for error in validate(schema.graphql_schema, parse(query))
    ]


# The sockets of a test go to its stack's consumer (a fixture, found under this attribute).
application = test_realtime.application


@pytest.fixture
def alice(transactional_db: None, application: None, make_user: Any) -> AbstractBaseUser:
    return make_user("alice")  # type: ignore[no-any-return]


@pytest.fixture
def bob(transactional_db: None, application: None, make_user: Any) -> AbstractBaseUser:
    return make_user("bob")  # type: ignore[no-any-return]


def hostile_subscribe(operation_id: str) -> dict[str, Any]:
    return {"type": "subscribe", "id": operation_id, "payload": {"query": "{" + " a" * 1990 + "}"}}


def test_a_hostile_subscribe_gets_the_limits_error(alice):
    async def scenario() -> None:
        socket = await connected(alice)
        await socket.send_json_to(hostile_subscribe("1"))
        frame = await socket.receive_json_from(timeout=10)
        assert frame == {
            "type": "error",
            "id": "1",
            "payload": [{"message": FIELDS_REFUSED, "locations": [{"line": 1, "column": 1}]}],
        }
        await socket.disconnect()

    run(scenario)


def test_the_socket_applies_max_query_length_as_http_does(alice, client):
    # One limit for both transports: the socket had a 10,000-character limit of its own.
    limit = conf.MAX_QUERY_LENGTH
    within = "subscription { myMessageCount }".ljust(limit)
    over = within + " "
    refused = client.post("/graphql", {"query": over}, content_type="application/json")
    assert refused.status_code == 400

    async def scenario() -> None:
        socket = await connected(alice)
        await socket.send_json_to({"type": "subscribe", "id": "1", "payload": {"query": within}})
        assert await socket.receive_json_from(timeout=10) == {
            "type": "next",
            "id": "1",
            "payload": {"data": {"myMessageCount": 0}},
        }
        await socket.send_json_to({"type": "subscribe", "id": "2", "payload": {"query": over}})
        frame = await socket.receive_json_from(timeout=10)
        assert frame == {"type": "error", "id": "2", "payload": refused.json()["errors"]}
        await socket.disconnect()

    run(scenario)


def test_other_sockets_are_answered_while_documents_are_validated(alice, bob, settings):
    # Limits raised so each subscribe costs graphql-core's rules about half a second: the
    # consumer must validate in its worker thread, not on the event loop other sockets share.
    settings.USER_MESSAGES = {
        **settings.USER_MESSAGES,
        "MAX_QUERY_FIELDS": 10**5,
        "MAX_QUERY_COMPARISONS": 10**9,
    }

    async def scenario() -> None:
        attackers = [await connected(alice) for _ in range(2)]
        victim = await connected(bob)
        for number, attacker in enumerate(attackers):
            for frame in range(3):
                await attacker.send_json_to(hostile_subscribe(f"{number}-{frame}"))
        start = time.perf_counter()
        for _ in range(10):
            await victim.send_json_to({"type": "ping"})
            assert await victim.receive_json_from(timeout=30) == {"type": "pong"}
        pings = time.perf_counter() - start
        # Six validations of about 0.5 s each are queued: they are still running now.
        assert await attackers[1].receive_nothing(timeout=0.01)
        # A loose bound for a loaded machine: on the event loop, each ping waited behind
        # the validation under way, 0.5 s or more.
        assert pings < 1.5
        for attacker in attackers:
            for _ in range(3):
                frame = await attacker.receive_json_from(timeout=60)
                assert frame["type"] == "error"
            await attacker.disconnect()
        await victim.disconnect()

    run(scenario)


@pytest.mark.django_db
def test_a_document_over_max_query_length_is_refused_unparsed(client, settings):
    # The parser reads each character in Python: 2.5 MB of one string literal, a single
    # token, used to cost it about 0.6 s.
    at_limit = "{ myMessageCount }".ljust(20_000)
    assert post_query(client, at_limit) == (200, {"data": {"myMessageCount": 0}})

    status, body = post_query(client, at_limit + " ")
    assert (status, body) == (
        400,
        {"errors": [{"message": "Document contains more than 20000 characters. Parsing aborted."}]},
    )

    settings.USER_MESSAGES = {"MAX_QUERY_LENGTH": 20}
    assert post_query(client, "{ myMessageCount }".ljust(21))[0] == 400


def errors_after_line_breaks(length: int) -> str:
    """A document of ``length`` characters: line breaks, then 100 fields with a repeated argument.

    Each repeated argument is an error on two nodes, which graphql-core locates by stepping
    through every line break before them.
    """
    fields = "{" + "".join(f" a{i}: myMessageCount(x: 1, x: 1)" for i in range(100)) + "}"
    return "\n" * (length - len(fields)) + fields


def timed(work: Callable[[], T]) -> tuple[float, T]:
    """What ``work()`` returns, after the processor time this thread spent on it.

    Processor time of this thread: the load of other processes on the machine is not in it.
    """
    start = time.thread_time()
    result = work()
    return time.thread_time() - start, result


@pytest.mark.django_db
def test_errors_after_many_line_breaks_are_located_without_walking_the_text(client, settings):
    settings.USER_MESSAGES = {**settings.USER_MESSAGES, "MAX_QUERY_LENGTH": 40_000}
    # What a stack pays once per process (Strawberry about 0.2 s on its first request) is no
    # part of locating errors: paid here, by the same 100 errors without line breaks.
    assert post_query(client, errors_after_line_breaks(0))[0] == 400
    # Distinct documents, so that none is answered from the document cache; the best of three.
    queries = [errors_after_line_breaks(40_000 - extra) for extra in range(3)]
    requests = [timed(lambda query=query: post_query(client, query)) for query in queries]
    request = min(seconds for seconds, _ in requests)
    # What walking the text once per error costs on this machine now (graphql-core's
    # Source.get_location, as GraphQLError would call it): the same load slows both alike.
    source, position = Source(queries[0]), queries[0].index("(x: 1, x: 1)")
    walk = min(
        timed(lambda: [source.get_location(position) for _ in range(10)])[0] / 10 for _ in range(3)
    )

    status, body = requests[0][1]
    assert status == 400
    line = queries[0].count("\n") + 1
    assert body["errors"][0] == {
        "message": "There can be only one argument named 'x'.",
        "locations": [{"line": line, "column": 22}, {"line": line, "column": 28}],
    }
    # About 20 ms here against 0.47 s for the 100 walks. A request that walked the text for
    # each error would cost the walks and more: five times the bound.
    assert request < 100 * walk / 5


@pytest.mark.django_db
def test_errors_are_located_as_graphql_core_locates_them(client):
    from graphql import parse, specified_rules, validate

    from tests.schema import schema

    # Every kind of line break, errors on one node and on several.
    query = (
        "\r\n\n{ a(x: 1, x: 1) \r\r b(y: $v) }\n query Q { c }\r\n"
        " fragment F on Query { d } query Q { ...F ...G }"
    )

    status, body = post_query(client, query)

    assert status == 400
    assert body["errors"] == [
        error.formatted for error in validate(schema.graphql_schema, parse(query), specified_rules)
    ]
