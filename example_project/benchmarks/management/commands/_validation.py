"""Hostile GraphQL documents at the default limits, and the time the package takes on each.

``bench`` prints the worst; ``hostile`` sends them at a real server (daphne).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from graphql import GraphQLError, GraphQLSchema

from user_messages.conf import conf
from user_messages.graphql_limits import parse_document, validate_document


def hostile_documents() -> Iterator[tuple[str, str]]:
    """(what, document) pairs built to cost validation the most within or just over the limits."""
    fields, length = conf.MAX_QUERY_FIELDS, conf.MAX_QUERY_LENGTH
    yield "1,990 copies of one unknown field (refused)", "{" + " a" * 1990 + "}"
    # C(32, 2) pairs of weight 2: just under MAX_QUERY_COMPARISONS' default.
    yield "32 copies of one unknown field", "{" + " a" * 32 + "}"
    yield "32 aliases of one field", "{" + " x: myMessageCount" * 32 + "}"
    yield (
        "8 copies of a field with 5 arguments and a sub-selection",
        "{" + " myMessages(peek: true, a: 1, b: 2, c: 3, d: 4) { id message }" * 8 + "}",
    )
    # Within MAX_QUERY_LENGTH too: __typename is the shortest field every type has.
    yield (
        f"{fields - 1} distinct aliases",
        "{" + "".join(f" a{i}:__typename" for i in range(fields - 1)) + "}",
    )
    yield (
        f"{fields - 1} distinct unknown fields",
        "{" + "".join(f" f{i}" for i in range(fields - 1)) + "}",
    )
    yield (
        "20 fragments spread in one selection set",
        "{"
        + "".join(f" ...F{i}" for i in range(20))
        + "}"
        + "".join(f" fragment F{i} on Query {{ f{i}: myMessageCount }}" for i in range(20)),
    )
    yield (
        "250 unused fragments",
        "{ myMessageCount }"
        + "".join(f" fragment F{i} on Query{{__typename}}" for i in range(250)),
    )
    yield (
        "a chain of 190 fragments",
        (
            "{ ...F0 }"
            + "".join(f" fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(189))
            + " fragment F189 on Query { myMessageCount }"
        ),
    )
    yield (
        "300 unknown arguments on one field",
        "{ myMessageCount(" + " ".join(f"a{i}: 1" for i in range(300)) + ") }",
    )
    yield (
        "400 unused variables",
        "query Q(" + " ".join(f"$v{i}: Int" for i in range(400)) + ") { myMessageCount }",
    )
    yield "250 operations", "".join(f" query Q{i} {{ myMessageCount }}" for i in range(250))
    yield (
        "1,900 ids in one list literal",
        ("mutation { acknowledgeMessages(ids: [" + ", ".join(["1"] * 1900) + "]) { count } }"),
    )
    yield (
        "a list literal nested 190 deep",
        ("{ myMessages(peek: " + "[" * 190 + "]" * 190 + ") { id } }"),
    )
    yield "280 directives on one field", "{ myMessageCount" + " @skip(if: false)" * 280 + " }"
    yield (
        "inline fragments nested 190 deep",
        ("{" + " ... on Query {" * 190 + " myMessageCount" + " }" * 190 + " }"),
    )
    yield (
        "30 introspection type chains 15 deep",
        "{"
        + "".join(
            f' t{i}: __type(name: "Query") {{' + " ofType {" * 13 + " name" + " }" * 14
            for i in range(30)
        )
        + "}",
    )

    errors = "{" + "".join(f" a{i}: myMessageCount(x: 1, x: 1)" for i in range(100)) + "}"
    yield (
        f"100 errors on two nodes each after {length - len(errors):,} line breaks",
        "\n" * (length - len(errors)) + errors,
    )
    literal = '{ myMessages(peek: """' + "x" * (length - 38) + '""") { id } }'
    yield f"one block string of {length - 38:,} characters", literal


def validation_ms(schema: GraphQLSchema, document: str, repeat: int = 5) -> float:
    """Best time of parsing and validating ``document`` as the package's view does, in ms."""

    def once() -> None:
        # A parser refusal is what the view answers with: its cost counts too.
        with contextlib.suppress(GraphQLError):
            validate_document(schema, parse_document(document))

    return best_ms(once, repeat)


def best_ms(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs in milliseconds: the cost without the machine's noise."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1000
