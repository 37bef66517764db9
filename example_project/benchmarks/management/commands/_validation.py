"""Hostile GraphQL documents at the default limits, and the time the package takes on each.

``bench`` prints the worst; ``hostile`` sends them at a real server (daphne).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from django.conf import settings
from django.test import override_settings
from graphql import GraphQLError, GraphQLSchema, get_introspection_query
from graphql.language import Lexer, Source, TokenKind

from user_messages.conf import conf
from user_messages.graphql_limits import (
    DocumentLimits,
    limit_errors,
    parse_document,
    validate_document,
)


def tokens(document: str) -> int:
    """How many tokens graphql-core's parser reads in ``document`` (comments count)."""
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def largest(build: Callable[[int], str], most: int = 10_000) -> tuple[int, str]:
    """The largest ``n`` (and its document) whose ``build(n)`` passes every limit of the package.

    Such a document reaches GraphQL's own rules: the most a client can make validation cost.
    """
    limits = DocumentLimits.from_settings()

    def passes(n: int) -> bool:
        document = build(n)
        try:
            return not limit_errors(parse_document(document), limits)
        except GraphQLError:
            return False

    low, high = 1, most
    while low < high:
        middle = (low + high + 1) // 2
        if passes(middle):
            low = middle
        else:
            high = middle - 1
    return low, build(low)


def hostile_documents() -> Iterator[tuple[str, str]]:
    """(what, document) pairs built to cost validation the most within or just over the limits.

    Each shape is grown to the most the token and length limits let through, so the figures
    follow the settings: with a larger MAX_QUERY_TOKENS, every document grows with it.
    """
    length = conf.MAX_QUERY_LENGTH
    yield "the issue's 1,990 copies of one unknown field (refused)", "{" + " a" * 1990 + "}"
    copies = conf.MAX_QUERY_TOKENS - 2  # and the two braces: the most the parser reads
    yield f"{copies:,} copies of one unknown field (refused)", "{" + " a" * copies + "}"
    # C(32, 2) pairs of weight 2: just under MAX_QUERY_COMPARISONS' default.
    yield "32 copies of one unknown field", "{" + " a" * 32 + "}"
    yield "32 aliases of one field", "{" + " x: myMessageCount" * 32 + "}"
    yield (
        "8 copies of a field with 5 arguments and a sub-selection",
        "{" + " myMessages(peek: true, a: 1, b: 2, c: 3, d: 4) { id message }" * 8 + "}",
    )
    shapes: list[tuple[str, Callable[[int], str]]] = [
        # __typename is the shortest field every type has.
        ("distinct aliases", lambda n: "{" + "".join(f" a{i}:__typename" for i in range(n)) + "}"),
        ("distinct unknown fields", lambda n: "{" + "".join(f" f{i}" for i in range(n)) + "}"),
        (
            "fragments spread in one selection set",
            lambda n: (
                "{"
                + "".join(f" ...F{i}" for i in range(n))
                + "}"
                + "".join(f" fragment F{i} on Query {{ f{i}: myMessageCount }}" for i in range(n))
            ),
        ),
        (
            "unused fragments",
            lambda n: (
                "{ myMessageCount }"
                + "".join(f" fragment F{i} on Query{{__typename}}" for i in range(n))
            ),
        ),
        (
            "fragments in a chain",
            lambda n: (
                "{ ...F0 }"
                + "".join(f" fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(n - 1))
                + f" fragment F{n - 1} on Query {{ myMessageCount }}"
            ),
        ),
        (
            "unknown arguments on one field",
            lambda n: "{ myMessageCount(" + " ".join(f"a{i}: 1" for i in range(n)) + ") }",
        ),
        (
            "unused variables",
            lambda n: (
                "query Q(" + " ".join(f"$v{i}: Int" for i in range(n)) + ") { myMessageCount }"
            ),
        ),
        ("operations", lambda n: "".join(f" query Q{i} {{ myMessageCount }}" for i in range(n))),
        (
            "ids in one list literal",
            lambda n: (
                "mutation { acknowledgeMessages(ids: [" + ", ".join(["1"] * n) + "]) { count } }"
            ),
        ),
        (
            "levels of a nested list literal",
            lambda n: "{ myMessages(peek: " + "[" * n + "]" * n + ") { id } }",
        ),
        ("directives on one field", lambda n: "{ myMessageCount" + " @skip(if: false)" * n + " }"),
        (
            "levels of nested inline fragments",
            lambda n: "{" + " ... on Query {" * n + " myMessageCount" + " }" * n + " }",
        ),
        (
            "introspection type chains 15 deep",
            lambda n: (
                "{"
                + "".join(
                    f' t{i}: __type(name: "Query") {{' + " ofType {" * 13 + " name" + " }" * 14
                    for i in range(n)
                )
                + "}"
            ),
        ),
        (
            "errors on two nodes each, after line breaks to the length limit",
            lambda n: (lambda errors: "\n" * max(length - len(errors), 0) + errors)(
                "{" + "".join(f" a{i}: myMessageCount(x: 1, x: 1)" for i in range(n)) + "}"
            ),
        ),
    ]
    for what, build in shapes:
        n, document = largest(build)
        yield f"{n:,} {what}", document
    literal = '{ myMessages(peek: """' + "x" * (length - 38) + '""") { id } }'
    yield f"one block string of {length - 38:,} characters", literal


def graphiql_introspection_query() -> str:
    """The introspection query GraphiQL sends on loading, with every option it asks for."""
    return get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )


def validation_ms(schema: GraphQLSchema, document: str, repeat: int = 5) -> float:
    """Best time of parsing and validating ``document`` as the package's view does, in ms."""

    def once() -> None:
        # A parser refusal is what the view answers with: its cost counts too.
        with contextlib.suppress(GraphQLError):
            validate_document(schema, parse_document(document))

    return best_ms(once, repeat)


def best_ms(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs in milliseconds of this thread's processor time.

    Processor time, not wall time: what the document costs the server, without the time other
    programs of a loaded machine hold the processor.
    """
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    return min(times) * 1000


class Worst(NamedTuple):
    """The most costly documents at one token limit, and GraphiQL's query as the yardstick."""

    accepted_ms: float
    accepted: str
    refused_ms: float
    refused: str
    introspection_ms: float


def worst_at_token_limits(
    schema: GraphQLSchema, token_limits: list[int], rounds: int = 3, repeat: int = 5
) -> dict[int, Worst]:
    """For each token limit, the worst accepted and refused documents, the limits alternating.

    Alternating rounds, best of ``rounds * repeat`` each: on a shared machine a single pass
    of one limit after the other would compare two different loads.
    """
    best: dict[int, Worst] = {}
    for _ in range(rounds):
        for limit in token_limits:
            with override_settings(USER_MESSAGES={**conf_settings(), "MAX_QUERY_TOKENS": limit}):
                times = {
                    what: validation_ms(schema, doc, repeat) for what, doc in hostile_documents()
                }
                introspection = validation_ms(schema, graphiql_introspection_query(), repeat)
            accepted = {what: ms for what, ms in times.items() if "refused" not in what}
            refused = {what: ms for what, ms in times.items() if "refused" in what}
            worst_accepted = max(accepted, key=accepted.__getitem__)
            worst_refused = max(refused, key=refused.__getitem__)
            found = Worst(
                accepted[worst_accepted],
                worst_accepted,
                refused[worst_refused],
                worst_refused,
                introspection,
            )
            kept = best.get(limit)
            best[limit] = (
                found
                if kept is None
                else Worst(
                    min(kept.accepted_ms, found.accepted_ms),
                    kept.accepted if kept.accepted_ms <= found.accepted_ms else found.accepted,
                    min(kept.refused_ms, found.refused_ms),
                    kept.refused if kept.refused_ms <= found.refused_ms else found.refused,
                    min(kept.introspection_ms, found.introspection_ms),
                )
            )
    return best


def conf_settings() -> dict[str, object]:
    """The project's USER_MESSAGES setting, to override one key of it."""
    return dict(getattr(settings, "USER_MESSAGES", None) or {})
