"""purge_user_messages: deletes what will never be shown again, and only that."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from user_messages import api
from user_messages.models import Message


@pytest.fixture
def messages(user):
    now = timezone.now()
    made = {
        "pending": api.info(user, "pending"),
        "sticky": api.info(user, "sticky", deliver_once=False),
        "recently delivered": api.info(user, "recently delivered"),
        "long delivered": api.info(user, "long delivered"),
        "expired": api.info(user, "expired", expires_at=now - datetime.timedelta(minutes=1)),
        "expires later": api.info(user, "later", expires_at=now + datetime.timedelta(days=1)),
    }
    Message.objects.filter(pk=made["recently delivered"].pk).update(
        delivered_at=now - datetime.timedelta(days=29)
    )
    Message.objects.filter(pk=made["long delivered"].pk).update(
        delivered_at=now - datetime.timedelta(days=31)
    )
    return made


def run(*args: str) -> str:
    out = StringIO()
    call_command("purge_user_messages", *args, stdout=out)
    return out.getvalue()


def test_deletes_old_delivered_and_expired_messages(messages):
    assert run() == "Deleted 2 message(s).\n"

    assert sorted(Message.objects.values_list("message", flat=True)) == [
        "later",
        "pending",
        "recently delivered",
        "sticky",
    ]


def test_days_sets_how_long_delivered_messages_are_kept(messages):
    assert run("--days", "0") == "Deleted 3 message(s).\n"


def test_dry_run_deletes_nothing(messages):
    output = run("--dry-run")

    assert output.startswith("Would delete 2 message(s): delivered before ")
    assert output.endswith(" or expired (1 expired).\n")
    assert Message.objects.count() == 6


def test_negative_days_is_an_error(db):
    with pytest.raises(CommandError, match=r"^--days must be 0 or more, got -1\.$"):
        run("--days", "-1")
