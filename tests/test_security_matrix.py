"""Who may read, send and acknowledge what, through the real GraphQL view.

Roles: an anonymous visitor, the owner of the messages (alice), another user (bob), a staff
member without the send permission, a user holding it, and a superuser.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.operations import post_operation
from user_messages import api
from user_messages.models import Message

# Each test runs on both GraphQL stacks (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("stack")

ROLES = ["anonymous", "owner", "other", "staff", "sender", "superuser"]


@pytest.fixture
def world(make_user) -> dict[str, Any]:
    owner = make_user("alice")
    users = {
        "owner": owner,
        "other": make_user("bob"),
        "staff": make_user("staff", is_staff=True),
        "sender": make_user("sender"),
        "superuser": make_user("root", is_staff=True, is_superuser=True),
    }
    users["sender"].user_permissions.add(
        Permission.objects.get(content_type__app_label="user_messages", codename="add_message")
    )
    sticky = api.warning(owner, "Owner's sticky", deliver_once=False, meta={"k": "v"})
    return {"users": users, "owner": owner, "sticky": sticky}


def client_for(role: str, world: dict[str, Any]) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


@pytest.mark.parametrize("role", ROLES)
def test_only_the_owner_reads_the_owners_messages(role, world):
    response = post_operation(client_for(role, world), "MyMessages", {"peek": True})

    shown = [m["message"] for m in response["data"]["myMessages"]]
    assert shown == (["Owner's sticky"] if role == "owner" else [])
    count = post_operation(client_for(role, world), "MyMessageCount")["data"]["myMessageCount"]
    assert count == (1 if role == "owner" else 0)


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("anonymous", "UNAUTHENTICATED"),
        ("owner", None),
        ("other", "NOT_FOUND"),
        ("staff", "NOT_FOUND"),
        ("sender", "NOT_FOUND"),
        ("superuser", "NOT_FOUND"),
    ],
)
def test_only_the_owner_acknowledges_the_owners_messages(role, code, world):
    sticky_id = str(world["sticky"].pk)

    payload = post_operation(client_for(role, world), "AcknowledgeMessages", {"ids": [sticky_id]})[
        "data"
    ]["acknowledgeMessages"]

    assert [e["code"] for e in payload["errors"]] == ([code] if code else [])
    assert payload["acknowledgedIds"] == ([] if code else [sticky_id])
    world["sticky"].refresh_from_db()
    assert (world["sticky"].delivered_at is None) == (code is not None)


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("anonymous", "UNAUTHENTICATED"),
        ("owner", None),
        ("other", "NOT_FOUND"),
        ("staff", "NOT_FOUND"),
        ("sender", "NOT_FOUND"),
        ("superuser", "NOT_FOUND"),
    ],
)
def test_only_the_owner_archives_and_unarchives_the_owners_messages(role, code, world):
    sticky_id = str(world["sticky"].pk)
    client = client_for(role, world)

    archived = post_operation(client, "ArchiveMessages", {"ids": [sticky_id]})["data"][
        "archiveMessages"
    ]
    world["sticky"].refresh_from_db()
    was_archived = world["sticky"].archived_at is not None
    unarchived = post_operation(client, "UnarchiveMessages", {"ids": [sticky_id]})["data"][
        "unarchiveMessages"
    ]

    assert [e["code"] for e in archived["errors"]] == ([code] if code else [])
    assert [e["code"] for e in unarchived["errors"]] == ([code] if code else [])
    assert archived["archivedIds"] == unarchived["unarchivedIds"] == ([] if code else [sticky_id])
    assert was_archived == (code is None)
    world["sticky"].refresh_from_db()
    # Only the owner's archive acknowledged it; unarchiving leaves that as it is.
    assert (world["sticky"].delivered_at is None) == (code is not None)
    assert world["sticky"].archived_at is None


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("anonymous", "UNAUTHENTICATED"),
        ("owner", "PERMISSION_DENIED"),
        ("other", "PERMISSION_DENIED"),
        ("staff", "PERMISSION_DENIED"),
        ("sender", None),
        ("superuser", None),
    ],
)
def test_only_holders_of_the_permission_send(role, code, world):
    before = Message.objects.count()
    variables = {
        "input": {
            "recipients": [str(world["owner"].pk)],
            "level": "INFO",
            "message": f"from {role}",
        }
    }

    payload = post_operation(client_for(role, world), "SendMessage", variables)["data"][
        "sendMessage"
    ]

    assert [e["code"] for e in payload["errors"]] == ([code] if code else [])
    assert Message.objects.count() == before + (0 if code else 1)


def test_the_send_permission_is_configurable(world, settings):
    settings.USER_MESSAGES = {"SEND_PERMISSION": "auth.change_user"}
    variables = {"input": {"recipients": [str(world["owner"].pk)], "level": "INFO", "message": "x"}}

    payload = post_operation(client_for("sender", world), "SendMessage", variables)["data"][
        "sendMessage"
    ]

    assert payload["errors"] == [
        {
            "field": None,
            "code": "PERMISSION_DENIED",
            "message": "You need the permission 'auth.change_user'.",
        }
    ]
