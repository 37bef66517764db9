"""Property-based: any input to the GraphQL mutations gives errors as data, never a 500.

Arbitrary text (unicode, NUL, huge), levels, meta and ids go through the real view; a send
either stores one message per distinct recipient or nothing at all.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.operations import operation
from tests.stacks import GRAPHQL_ACCEPT
from user_messages import api
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stack")]

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(max_size=50) | st.text(min_size=2000, max_size=2100) | st.just("a\x00b")
ids = (
    st.integers(-(2**70), 2**70).map(str) | st.text(max_size=20) | st.sampled_from(["own", "other"])
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@pytest.fixture
def sender(make_user):
    user = make_user("sender")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="user_messages", codename="add_message")
    )
    client = Client(headers=GRAPHQL_ACCEPT)
    client.force_login(user)
    return user, client


def post(client: Client, name: str, variables: dict) -> tuple[int, dict]:
    body = json.dumps({"query": operation(name), "operationName": name, "variables": variables})
    response = client.post("/graphql", body, content_type="application/json")
    return response.status_code, response.json()


def resolve(value: str, own: int, other: int) -> str:
    return {"own": str(own), "other": str(other)}.get(value, value)


@SETTINGS
@given(
    recipients=st.lists(ids, max_size=4),
    level=st.sampled_from(["DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"]) | st.text(max_size=8),
    message=text,
    extra_tags=st.none() | text,
    meta=st.none() | json_values,
    deliver_once=st.none() | st.booleans(),
    expires_at=st.none() | st.text(max_size=30) | st.just("2100-01-01T00:00:00+00:00"),
)
def test_any_send_is_all_or_nothing_and_never_a_server_error(
    sender, other_user, recipients, level, message, extra_tags, meta, deliver_once, expires_at
):
    user, client = sender
    before = Message.objects.count()
    fields = {
        "recipients": [resolve(r, user.pk, other_user.pk) for r in recipients],
        "level": level,
        "message": message,
        "extraTags": extra_tags,
        "meta": meta,
        "deliverOnce": deliver_once,
        "expiresAt": expires_at,
    }
    variables = {"input": {k: v for k, v in fields.items() if v is not None}}

    status, body = post(client, "SendMessage", variables)

    assert status in (200, 400), body
    created = Message.objects.count() - before
    if status == 400:
        # The request did not fit the schema (an unknown level, a malformed date): GraphQL's
        # own validation answered, and nothing ran.
        assert body["errors"]
        assert created == 0
        return
    assert "errors" not in body, body
    payload = body["data"]["sendMessage"]
    if payload["errors"]:
        assert created == 0
        assert all({"field", "code", "message"} == set(e) for e in payload["errors"])
    else:
        assert created == payload["count"] == len(set(variables["input"]["recipients"]))


@SETTINGS
@given(values=st.lists(ids, max_size=6))
def test_any_ids_to_acknowledge_give_errors_as_data(sender, other_user, values):
    user, client = sender
    mine = api.info(user, "mine", deliver_once=False)
    theirs = api.info(other_user, "theirs", deliver_once=False)
    sent = [resolve(v, mine.pk, theirs.pk) for v in values]

    status, body = post(client, "AcknowledgeMessages", {"ids": sent})

    assert status == 200, body
    assert "errors" not in body, body
    payload = body["data"]["acknowledgeMessages"]
    theirs.refresh_from_db()
    assert theirs.delivered_at is None
    acknowledged = [int(pk) for pk in payload["acknowledgedIds"]]
    assert Message.objects.filter(pk__in=acknowledged, user=user).count() == len(acknowledged)
    assert {e["code"] for e in payload["errors"]} <= {"INVALID", "NOT_FOUND"}
