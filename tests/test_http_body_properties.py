"""Property-based: any raw HTTP body sent to /graphql gets a 4xx or an answer, never a 500.

Where tests/test_graphql_properties.py varies the variables of well-formed requests, this varies
the bytes: arbitrary JSON, bodies nested thousands deep, lone surrogates, numbers too large for
any type, wrong types in every position, and content types that do not match the body. The
clients are anonymous, signed in without the send permission, and signed in with it, with and
without Django's CSRF checks. The Message table gains exactly what a sendMessage reported, or
nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.operations import operation
from tests.stacks import GRAPHQL_ACCEPT
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stack")]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text with everything JSON can carry: lone surrogates (json.dumps escapes them), NUL, long runs.
hostile_text = (
    st.text(st.characters(exclude_categories=()), max_size=30)
    | st.sampled_from(["\ud800", "a\udfffb", "\x00", "𝄞", "\ud834\udd1e"])
    | st.text(min_size=2000, max_size=2100)
)
numbers = st.integers(-(2**80), 2**80) | st.floats() | st.sampled_from([2**63, -(2**63) - 1])
json_values = st.recursive(
    st.none() | st.booleans() | numbers | hostile_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=12,
)
# Raw JSON fragments that json.dumps would never write: numbers beyond Python's int parsing
# limit or any float, and the non-standard constants Python's parser accepts.
raw_numbers = st.sampled_from(
    ["1" * 5000, "1e999999", "-1e999999", "NaN", "Infinity", "-0", "1" * 19, "9" * 30]
)
levels = st.sampled_from(["DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"]) | json_values
dates = (
    st.sampled_from(
        [
            "2100-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59+00:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "2100-02-30T00:00:00Z",
        ]
    )
    | json_values
)

ROLES = ["anonymous", "member", "sender"]


@pytest.fixture
def clients(make_user) -> dict[tuple[str, bool], tuple[Client, dict[str, str]]]:
    """A client per (role, CSRF enforced), with the header that carries its CSRF token."""
    member = make_user("member")
    sender = make_user("sender")
    sender.user_permissions.add(
        Permission.objects.get(content_type__app_label="user_messages", codename="add_message")
    )
    users = {"anonymous": None, "member": member, "sender": sender}
    made = {}
    for role, user in users.items():
        for enforce in (False, True):
            client = Client(enforce_csrf_checks=enforce, headers=GRAPHQL_ACCEPT)
            if user is not None:
                client.force_login(user)
            headers = {}
            if enforce:
                response = client.get("/graphql", HTTP_ACCEPT="application/json")
                headers["HTTP_X_CSRFTOKEN"] = response.cookies["csrftoken"].value
            made[role, enforce] = (client, headers)
    return made


@st.composite
def send_message_bodies(draw: st.DrawFn) -> str:
    """A SendMessage request as an SPA would send it; any field may hold any value instead."""
    short_text = st.text(st.characters(exclude_categories=()), min_size=1, max_size=20)
    fields = {
        "recipients": (
            st.lists(st.sampled_from(["@me@", "@other@"]), min_size=1, max_size=3),
            st.lists(st.sampled_from(["@me@", "@other@"]) | json_values, max_size=3),
        ),
        "level": (st.sampled_from(["INFO", "ERROR"]), levels),
        "message": (short_text, hostile_text | json_values),
        "extraTags": (st.just("") | short_text, hostile_text | json_values),
        "meta": (st.dictionaries(short_text, json_values, max_size=3), json_values),
        "deliverOnce": (st.booleans(), json_values),
        "expiresAt": (st.just("2100-01-01T00:00:00+00:00"), dates),
    }
    chosen = {}
    for name, (usual, hostile) in fields.items():
        # One field in eight gets any JSON value or goes missing, so most requests reach the
        # resolver with hostile text, meta or dates of the right type.
        # (Hypothesis leans to the smallest draw, 0: that is the usual value.)
        if draw(st.integers(0, 7)) == 7:
            if draw(st.booleans()):
                continue
            chosen[name] = draw(hostile)
        else:
            chosen[name] = draw(usual)
    variables: Any = {"input": chosen}
    if draw(st.booleans()):
        variables = json.dumps(variables)  # graphene-django decodes a string a second time
    body = {"query": operation("SendMessage"), "operationName": "SendMessage"}
    body["variables"] = variables
    return json.dumps(body)


@st.composite
def any_json_bodies(draw: st.DrawFn) -> str:
    """Any JSON, or a GraphQL-shaped object with any value in any position."""
    shaped = st.fixed_dictionaries(
        {},
        optional={
            "query": st.sampled_from(
                [operation(name) for name in ("MyMessages", "MyMessageCount", "SendMessage")]
            )
            | json_values,
            "operationName": json_values,
            "variables": json_values,
            "id": json_values,
        },
    )
    return json.dumps(draw(shaped | json_values))


@st.composite
def nested_bodies(draw: st.DrawFn) -> str:
    """A body nested up to 5,000 deep: all of it, or the variables (as JSON or as a string)."""
    depth = draw(st.integers(1, 5000))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opening * depth + draw(st.sampled_from(["", "1", '"x"'])) + closing * depth
    if opening == "[" and nested.startswith("[1"):
        nested = nested.replace("1", "", 1)
    where = draw(st.sampled_from(["body", "variables", "variables string", "input"]))
    query = json.dumps(operation("SendMessage"))
    if where == "body":
        return nested
    if where == "variables string":
        return f'{{"query": {query}, "variables": {json.dumps(nested)}}}'
    if where == "input":
        return f'{{"query": {query}, "variables": {{"input": {{"meta": {nested}}}}}}}'
    return f'{{"query": {query}, "variables": {nested}}}'


@st.composite
def raw_number_bodies(draw: st.DrawFn) -> str:
    """A SendMessage body with a raw number no encoder writes, in any field."""
    field = draw(st.sampled_from(["recipients", "level", "message", "meta", "expiresAt"]))
    number = draw(raw_numbers)
    value = f"[{number}]" if field == "recipients" else number
    return (
        f'{{"query": {json.dumps(operation("SendMessage"))}, '
        f'"variables": {{"input": {{"{field}": {value}, "message": "m", "recipients": []}}}}}}'
    )


bodies = (
    send_message_bodies()
    | send_message_bodies()
    | any_json_bodies()
    | nested_bodies()
    | raw_number_bodies()
    | st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
)
content_types = st.just("application/json") | st.sampled_from(
    [
        "application/json; charset=utf-8",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ]
)


def reported_count(body: dict[str, Any]) -> int:
    """Messages the response says it stored: sendMessage's count when it has no errors."""
    data = body.get("data") or {}
    payload = data.get("sendMessage") if isinstance(data, dict) else None
    if isinstance(payload, dict) and not payload.get("errors"):
        return int(payload.get("count") or 0)
    return 0


@SETTINGS
@given(
    role=st.sampled_from(ROLES),
    enforce_csrf=st.booleans(),
    text=bodies,
    encoding=st.just("utf-8") | st.sampled_from(["surrogatepass", "latin-1"]),
    content_type=content_types,
)
def test_any_body_gets_an_answer_or_a_4xx_and_stores_what_it_reports(
    clients, user, role, enforce_csrf, text, encoding, content_type
):
    client, headers = clients[role, enforce_csrf]
    if encoding == "surrogatepass":
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = text.encode(encoding, "replace")
    # The placeholders become real ids (also inside variables sent as a string), so sends succeed.
    sender = get_user_model().objects.get(username="sender")
    raw = raw.replace(b"@me@", str(sender.pk).encode()).replace(b"@other@", str(user.pk).encode())
    before = Message.objects.count()

    response = client.post("/graphql", raw, content_type=content_type, **headers)

    assert response.status_code < 500, response.content[:500]
    event(f"HTTP {response.status_code}")
    stored = Message.objects.count() - before
    if not response["Content-Type"].startswith("application/graphql-response+json"):
        # Only Django itself answers in HTML, before the view: its CSRF middleware reads a
        # form body to find the token, and refuses one it cannot parse.
        assert enforce_csrf
        assert response.status_code == 400
        assert content_type.startswith("multipart/")
        assert stored == 0
        return
    body = response.json()
    assert isinstance(body, dict)
    assert stored == reported_count(body), body
    event("stored messages" if stored else "stored nothing")
    if b"9999-12-31T23:59:59-14:00" in raw:
        # Beyond year 9999 in UTC: refused (PostgreSQL used to store it, and then every read
        # of the recipient failed to load it).
        assert stored == 0
    if stored:
        # What was stored can be read back: the recipient's next page view shows it.
        reader = Client(headers=GRAPHQL_ACCEPT)
        reader.force_login(user)
        page = reader.get("/messages/")
        assert page.status_code == 200
    if stored:
        assert role == "sender"
