"""Property-based: a history cursor is taken only as ``make_history_cursor`` spelt it.

What a forger would try on a cursor: the other base64 alphabet, padding taken off or added,
whitespace, a character changed, other encodings, the id written another way (leading zeros, a
sign, non-ASCII digits, too large for any column), another prefix, and genuine cursors of other
users' messages or of ids that do not exist. A cursor is refused unless it is exactly one that
``make_history_cursor`` makes; a genuine one only says where the page starts, and the page holds
the caller's messages alone. Through the Python API, and through the real view of both GraphQL
stacks, which must refuse with the API's words.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from user_messages import api
from user_messages.models import Message
from user_messages.validation import MAX_ID, InvalidInput, make_history_cursor

pytestmark = pytest.mark.django_db

# Small counts: each example is a request or a query; the file runs in seconds.
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GRAPHQL_SETTINGS = settings(SETTINGS, max_examples=40)

REFUSED = (
    " is not a history cursor; pass the cursor or endCursor of a history page, or nothing for "
    "the first page."
)
PAGE = """
query Page($after: String) {
  myMessageHistory(first: 5, after: $after) { edges { node { id } } }
}
"""
FULLWIDTH_DIGITS = {ord("0") + digit: 0xFF10 + digit for digit in range(10)}


def genuine_id(value: object) -> int | None:
    """The id whose cursor ``value`` is, or None if ``make_history_cursor`` never makes it.

    Decodes leniently, then asks ``make_history_cursor`` (the one definition of a cursor)
    whether it spells that id so.
    """
    if not isinstance(value, str) or not value.isascii():
        return None
    try:
        text = base64.urlsafe_b64decode(value + "===").decode("ascii")
    except ValueError:
        return None
    match = re.fullmatch(r"history:([1-9][0-9]*)", text)
    if match is None or int(match[1]) > MAX_ID:
        return None
    pk = int(match[1])
    return pk if make_history_cursor(pk) == value else None


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def id_texts(pk: int) -> st.SearchStrategy[str]:
    """The id written as ``make_history_cursor`` writes it, and as it never does."""
    digits = str(pk)
    return st.sampled_from(
        [
            digits,
            "0" + digits,
            "00" + digits,
            "+" + digits,
            "-" + digits,
            " " + digits,
            digits + " ",
            digits + "\n",
            digits.translate(FULLWIDTH_DIGITS),
            f"{digits[:1]}_{digits[1:]}" if len(digits) > 1 else digits + "_0",
            digits + ".0",
            hex(pk),
            "0",
            "-0",
            str(MAX_ID + 1),
            str(MAX_ID + pk),
            "9" * 30,
        ]
    )


def forged_cursors(pk: int) -> st.SearchStrategy[Any]:
    """What a forger makes of the cursor of ``pk``, and of the text it encodes."""
    cursor = make_history_cursor(pk)
    text = f"history:{pk}"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=. \n\t%"

    def replace(position: int, character: str) -> str:
        position %= len(cursor)
        return cursor[:position] + character + cursor[position + 1 :]

    def insert(position: int, character: str) -> str:
        position %= len(cursor) + 1
        return cursor[:position] + character + cursor[position:]

    return st.one_of(
        st.just(cursor),
        st.just(base64.b64encode(text.encode()).decode()),  # the standard alphabet, + and /
        st.just(cursor.rstrip("=")),
        st.integers(1, 4).map(lambda n: cursor + "=" * n),
        st.builds(insert, st.integers(0, 64), st.sampled_from(" \n\t\r\x0b\x0c\u00a0\u3000")),
        st.builds(replace, st.integers(0, 64), st.sampled_from(alphabet)),
        st.just(cursor.swapcase()),
        st.just(cursor + "AAAA"),
        st.just(encoded(cursor)),  # encoded twice
        st.just(base64.b32encode(text.encode()).decode()),
        st.just(base64.b16encode(text.encode()).decode()),
        st.just(base64.b85encode(text.encode()).decode()),
        st.just(text),
        id_texts(pk).map(lambda digits: encoded(f"history:{digits}")),
        st.sampled_from(["History:", "HISTORY:", "history;", "history", "message:", ""]).map(
            lambda prefix: encoded(f"{prefix}{pk}")
        ),
    )


@pytest.fixture
def ids(user: AbstractBaseUser, other_user: AbstractBaseUser) -> st.SearchStrategy[int]:
    """Ids of the caller's messages, of another user's, of none at all, up to the largest."""
    mine, theirs = [], []
    for number in range(4):
        mine.append(api.info(user, f"alice {number}").pk)
        theirs.append(api.info(other_user, f"bob {number}").pk)
    return st.sampled_from(mine + theirs) | st.integers(1, MAX_ID) | st.just(MAX_ID)


def expected_page(user: AbstractBaseUser, after: int) -> list[int]:
    """The ids of the caller's five newest messages older than ``after``."""
    rows = Message.objects.filter(user=user, pk__lt=after).order_by("-pk")
    return list(rows.values_list("pk", flat=True)[:5])


def cursors(ids: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    """Genuine cursors, forged ones and any text, about a third each."""
    return ids.map(make_history_cursor) | ids.flatmap(forged_cursors) | st.text(max_size=70)


def test_a_cursor_is_taken_only_as_make_history_cursor_spells_it(
    user: AbstractBaseUser, ids: st.SearchStrategy[int]
) -> None:
    @SETTINGS
    @given(value=cursors(ids) | st.integers() | st.binary(max_size=40) | st.none())
    def check(value: Any) -> None:
        pk = genuine_id(value)
        event("genuine" if pk is not None else "none" if value is None else "refused")

        if pk is None and value is not None:
            with pytest.raises(InvalidInput) as refused:
                api.history_page(user, first=5, after=value)
            assert refused.value.field == "after"
            assert str(refused.value).endswith(REFUSED)
        else:
            page = api.history_page(user, first=5, after=value)
            if pk is not None:
                assert [message.pk for message in page.messages] == expected_page(user, pk)

    check()


def post_page(client: Client, after: Any) -> dict[str, Any]:
    body = json.dumps({"query": PAGE, "variables": {"after": after}})
    response = client.post("/graphql", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.usefixtures("stack")
def test_graphql_takes_only_genuine_cursors_and_refuses_with_the_apis_words(
    alice: Client, user: AbstractBaseUser, ids: st.SearchStrategy[int]
) -> None:
    def refusal(value: str) -> str:
        try:
            api.history_page(user, after=value)
        except InvalidInput as error:
            return str(error)
        raise AssertionError(f"the API took {value!r}")

    @GRAPHQL_SETTINGS
    @given(value=cursors(ids))
    def check(value: str) -> None:
        pk = genuine_id(value)
        event("genuine" if pk is not None else "refused")

        response = post_page(alice, value)

        if pk is None:
            assert response["data"] is None, value
            assert [error["message"] for error in response["errors"]] == [refusal(value)]
        else:
            assert "errors" not in response, response
            edges = response["data"]["myMessageHistory"]["edges"]
            assert [int(edge["node"]["id"]) for edge in edges] == expected_page(user, pk)

    check()
