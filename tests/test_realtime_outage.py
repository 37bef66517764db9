"""A channel layer that hangs delays no sender: a real Redis frozen with SIGSTOP, both stacks.

Sends go through the real GraphQL view (Django's test client, CSRF on); the layer is
channels_redis on a Redis of the test's own, configured as the docs recommend
(``socket_timeout: 10``), which is how long each send waited before the layer's sends were bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from tests import test_realtime as realtime
from tests.test_realtime import redis_layer
from tests.test_realtime_e2e import RedisServer
from user_messages import api
from user_messages.models import Message
from user_messages.realtime import groups

# The "application" fixture (a test's sockets go to its stack's consumer), under its own name.
application = realtime.application

SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { count } }"
#: Far above a bounded send (LIVE_SEND_TIMEOUT, 0.5 s) and far below the socket timeout (10 s).
PROMPT = 2.0


def send(client: Client, user: AbstractBaseUser, text: str) -> float:
    """Send ``text`` to ``user`` through the view; the seconds it took."""
    variables = {"input": {"recipients": [str(user.pk)], "level": "INFO", "message": text}}
    started = time.monotonic()
    response = client.post(
        "/graphql",
        json.dumps({"query": SEND, "variables": variables}),
        content_type="application/json",
    )
    took = time.monotonic() - started
    assert response.json() == {"data": {"sendMessage": {"count": 1}}}
    return took


async def within_seconds(awaitable: Any, seconds: float = 5) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


@pytest.fixture
def frozen(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The test's Redis, which the test freezes; thawed again whatever happens."""
    assert redis_server.process is not None
    yield redis_server
    os.kill(redis_server.process.pid, signal.SIGCONT)


@pytest.mark.usefixtures("stack")
def test_a_frozen_redis_delays_no_send_logs_once_and_recovers(
    transactional_db: None,  # the announcement runs after the send's commit
    sender: Client,
    user: AbstractBaseUser,
    frozen: RedisServer,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.CHANNEL_LAYERS = redis_layer(frozen.url)
    # Tried again soon after the outage, so the test waits little for the recovery.
    settings.USER_MESSAGES = {"LIVE_SEND_PAUSE": 0.3}
    caplog.set_level(logging.WARNING, logger="user_messages.realtime.groups")
    assert frozen.process is not None
    send(sender, user, "Before the freeze.")  # the view warmed up, the layer answering
    lost = groups.lost_announcements()

    os.kill(frozen.process.pid, signal.SIGSTOP)
    took = [send(sender, user, f"Sent while Redis is frozen {n}.") for n in range(3)]

    assert max(took) < PROMPT, took
    assert Message.objects.filter(message__startswith="Sent while Redis is frozen").count() == 3
    (outage,) = caplog.records
    assert outage.exc_info is None
    assert outage.getMessage().startswith(
        f"user_messages: could not announce a change on user_messages.user.{user.pk} "
        "(no answer within 0.5 s): live updates pause"
    )
    # The first timed out; the others, sent within the pause, were not tried.
    assert groups.lost_announcements() >= lost + 2

    os.kill(frozen.process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 5
    while len(caplog.records) == 1:
        assert time.monotonic() < deadline, "no recovery logged within 5 s"
        assert send(sender, user, "Sent after the thaw.") < PROMPT

    (_, recovery) = caplog.records
    assert recovery.getMessage().startswith("user_messages: the channel layer answers again after")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(groups.user_group(user.pk), channel)
    send(sender, user, "Announced again.")
    assert async_to_sync(within_seconds)(layer.receive(channel)) == {"type": groups.CHANGED}
    assert len(caplog.records) == 2


def test_an_announcement_from_async_code_waits_on_no_frozen_redis(
    frozen: RedisServer, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHANNEL_LAYERS = redis_layer(frozen.url)
    caplog.set_level(logging.WARNING, logger="user_messages.realtime.groups")
    assert frozen.process is not None
    lost = groups.lost_announcements()
    os.kill(frozen.process.pid, signal.SIGSTOP)

    async def scenario() -> None:
        # In a running loop the sends are a task of that loop: announce() returns at once.
        groups.announce([1, 2])
        (task,) = groups._pending_sends
        await within_seconds(task, PROMPT)
        groups.announce([3])  # within the pause: not even a task
        assert groups._pending_sends == set()

    async_to_sync(scenario)()

    (outage,) = caplog.records
    assert outage.getMessage().startswith(
        "user_messages: could not announce a change on user_messages.user.1 "
        "(no answer within 0.5 s)"
    )
    assert groups.lost_announcements() == lost + 3


def test_a_socket_joining_its_groups_ends_the_pause_at_once(
    transactional_db: None,
    application: None,
    user: AbstractBaseUser,
    frozen: RedisServer,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.CHANNEL_LAYERS = redis_layer(frozen.url)
    # Far longer than the test: only the socket can end the pause.
    settings.USER_MESSAGES = {"LIVE_SEND_PAUSE": 600}
    caplog.set_level(logging.WARNING, logger="user_messages.realtime.groups")
    assert frozen.process is not None
    os.kill(frozen.process.pid, signal.SIGSTOP)
    api.info(user, "Sent while Redis is frozen.")
    os.kill(frozen.process.pid, signal.SIGCONT)

    async def scenario() -> None:
        # What sockets closed by the outage do when graphql-ws reconnects them.
        socket = await realtime.connected(user)
        await socket.disconnect()

    realtime.run(scenario)

    assert [record.getMessage().split(" after ")[0] for record in caplog.records] == [
        f"user_messages: could not announce a change on user_messages.user.{user.pk} "
        "(no answer within 0.5 s): live updates pause; the channel layer is tried again every "
        "600 s, and what is not sent meanwhile is counted by "
        "user_messages.realtime.groups.lost_announcements()",
        "user_messages: the channel layer answers again",
    ]
    lost = groups.lost_announcements()
    api.info(user, "Announced again.")
    assert groups.lost_announcements() == lost
