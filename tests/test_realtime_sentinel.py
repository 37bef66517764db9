"""Live updates survive a Redis failover: channels_redis on Sentinel, the primary killed.

A local Sentinel set of the test's own (one primary, one replica, three sentinels: Debian's
redis-server binary) and the layer configured as docs/howto/deploy.md says. The socket is the
real consumer behind AuthMiddlewareStack; what graphql-ws's retry does after a 4503, the test
does: it connects again until it is acknowledged. One stack: the failover is the shared
LiveSocket's (tests/test_realtime.py runs its rules on both). The database engine plays no part
(`engine_independent`), nor the versions the other suites vary (`version_independent`); about
5 s, most of it the sentinels agreeing that the primary is down (1 s) and electing a leader.
`loadtest --realtime --sentinel` measures the same with thousands of Node clients.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AbstractBaseUser

from example_project.benchmarks.management.commands._sentinel import MASTER_NAME, SentinelSet
from tests import test_realtime as realtime
from tests.test_realtime import alice, closed_with, next_count, send  # noqa: F401 (fixtures)
from tests.test_realtime_e2e import REPO
from user_messages.models import Message

application = realtime.application

pytestmark = [
    pytest.mark.engine_independent,
    pytest.mark.version_independent,
    pytest.mark.parametrize("stack", ["graphene"]),
]


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    sentinel_set = SentinelSet(tmp_path)
    yield sentinel_set
    sentinel_set.stop()


def example_layers(sentinels: SentinelSet) -> dict[str, Any]:
    """CHANNEL_LAYERS of example_project/settings.py for these sentinels (REDIS_SENTINELS)."""
    program = (
        "import json, importlib\n"
        "layers = importlib.import_module('example_project.settings').CHANNEL_LAYERS\n"
        "print(json.dumps(layers))\n"
    )
    addresses = ",".join(f"{host}:{port}" for host, port in sentinels.sentinels)
    finished = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        env={
            "PYTHONPATH": str(REPO),
            "PATH": "/usr/bin:/bin",
            "REDIS_SENTINELS": addresses,
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    layers: dict[str, Any] = json.loads(finished.stdout)
    (host,) = layers["default"]["CONFIG"]["hosts"]
    assert host == {
        **sentinels.host(max_connections=1000, socket_timeout=10),
        "sentinels": [list(address) for address in sentinels.sentinels],
    }
    return layers


async def subscribed_again(user: AbstractBaseUser, deadline: float) -> WebsocketCommunicator:
    """Connect until acknowledged, as graphql-ws retries after 4503; then subscribe."""
    while True:
        ws = await sync_to_async(realtime.socket)(user)
        assert await ws.connect(timeout=10) == (True, "graphql-transport-ws")
        await ws.send_json_to({"type": "connection_init"})
        frame = await ws.receive_output(timeout=10)
        if frame["type"] == "websocket.send":
            assert frame["text"] == '{"type": "connection_ack"}'
            await ws.send_json_to(
                {"type": "subscribe", "id": "1", "payload": realtime.COUNT_CHANGED}
            )
            return ws
        assert frame["code"] == 4503, frame  # the layer has no primary yet
        await ws.disconnect()
        assert time.monotonic() < deadline, "not acknowledged again within the deadline"
        await sync_to_async(time.sleep)(0.2)


def test_a_socket_closed_by_a_failover_reconnects_and_counts_what_was_sent_meanwhile(
    alice: AbstractBaseUser,  # noqa: F811
    sentinels: SentinelSet,
    settings: Any,
) -> None:
    # The layer the example project (and docs/howto/deploy.md, which shows its lines) builds.
    settings.CHANNEL_LAYERS = example_layers(sentinels)
    # Tried again soon after the failover, so the test waits little for the sends to resume.
    settings.USER_MESSAGES = {"LIVE_SEND_PAUSE": 0.3}

    async def scenario() -> None:
        ws = await realtime.subscribed(alice)
        assert await next_count(ws) == 0
        await send(alice, "Before the failover.")
        assert await next_count(ws) == 1

        await sync_to_async(sentinels.kill_primary)()
        # Left open, the socket would not hear what is announced while there is no primary.
        assert await closed_with(ws) == (4503, "Try again later")
        await ws.disconnect()
        await send(alice, "Sent while there is no primary.")  # stored; its push is lost
        await sync_to_async(sentinels.wait)(
            lambda: sentinels.primary() == sentinels.replica_port, "the failover"
        )

        ws = await subscribed_again(alice, deadline=time.monotonic() + 20)
        assert await next_count(ws) == 2  # what was sent meanwhile included
        # The socket's join reached the new primary, which ended the sender's pause: this
        # send is announced through the promoted replica.
        await send(alice, "After the failover.")
        assert await next_count(ws) == 3
        await ws.disconnect()

    realtime.run(scenario)
    # Nothing stored was lost: the rows are the database's, whatever Redis went through.
    assert Message.objects.filter(user=alice).count() == 3
