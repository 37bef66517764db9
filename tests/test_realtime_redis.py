"""The recommended Redis channel layer keeps idle sockets alive with any redis-py.

channels_redis waits for a socket's messages with BZPOPMIN, 5 seconds at a time
(``RedisChannelLayer.brpop_timeout``). redis-py 8 gives every connection a 5-second read timeout
by default (``socket_timeout``; it was none before 8), so the client can give up reading just as
Redis answers "nothing yet": "Timeout reading from 127.0.0.1:6379" raised inside the consumer's
receive, and the socket closed. The example project's layer sets a longer ``socket_timeout``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import redis

from tests.test_realtime_e2e import (  # noqa: F401 (fixtures)
    MANAGE,
    REPO,
    RedisServer,
    live_client,
    node,
    project_env,
    redis_env,
    redis_server,
    server_kind,
    shell,
    signed_in,
    start,
)
from user_messages.checks import check_channel_layers


def empty_blocking_reads(server: RedisServer) -> int:
    """How many BZPOPMIN calls the test's own Redis has answered (nothing else sends them)."""
    client = redis.Redis.from_url(server.url)
    try:
        stats = client.info("commandstats").get("cmdstat_bzpopmin", {})
        return int(stats.get("calls", 0))
    finally:
        client.close()


# The example project on its own SQLite file, as in test_realtime_e2e. What can fail here lies
# between channels_redis and redis-py, below the ASGI server and the GraphQL stack: one of each.
@pytest.mark.engine_independent
@pytest.mark.parametrize(("server_kind", "stack"), [("daphne", "graphene")])
def test_an_idle_socket_hears_a_send_after_several_empty_blocking_reads(
    node: str,  # noqa: F811
    redis_env: dict[str, str],  # noqa: F811
    redis_server: RedisServer,  # noqa: F811
    start: Any,  # noqa: F811
    server_kind: str,  # noqa: F811
) -> None:
    erin, cookie = signed_in(redis_env, "erin")
    server = start(redis_env)
    client = live_client(start, node, server, origin=server.origin, cookie=cookie)
    assert client.next_event() == {"count": 0}

    # Idle past one of channels_redis's 5-second blocking reads: it ends with Redis's empty
    # answer (Redis counts a blocking call when it returns), which must reach the client before
    # its own read timeout.
    deadline = time.monotonic() + 30
    while empty_blocking_reads(redis_server) < 1:
        assert time.monotonic() < deadline, "no blocking read ended within 30 s"
        time.sleep(0.2)
    shell(
        redis_env,
        f"from user_messages import api\napi.info({int(erin)}, 'After a quiet while.')",
    )

    assert client.next_event(timeout=20) == {"count": 1}
    code, log = server.shut_down()
    # uvicorn re-raises the SIGTERM it stopped on (tests/test_realtime_e2e.py says more).
    assert code == {"uvicorn": -signal.SIGTERM}.get(server_kind, 0), log
    assert "Timeout reading" not in log
    assert "Traceback" not in log


REDIS_LAYER = "channels_redis.core.RedisChannelLayer"
#: redis-py 8 reads with a 5 s timeout by default; earlier versions wait without one.
DEFAULT_TIMES_OUT = int(redis.__version__.split(".")[0]) >= 8


@pytest.mark.parametrize(
    ("hosts", "ids"),
    [
        ([{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 10}], []),
        ([{"address": "redis://127.0.0.1:6379/0", "socket_timeout": None}], []),
        (["redis://127.0.0.1:6379/0?socket_timeout=30"], []),
        ([{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 5}], ["user_messages.W001"]),
        (["redis://127.0.0.1:6379/0?socket_timeout=2"], ["user_messages.W001"]),
        ([{"host": "127.0.0.1", "port": 6379, "socket_timeout": 1}], ["user_messages.W001"]),
        (["redis://127.0.0.1:6379/0"], ["user_messages.W001"] if DEFAULT_TIMES_OUT else []),
        ([("127.0.0.1", 6379)], ["user_messages.W001"] if DEFAULT_TIMES_OUT else []),
    ],
)
def test_a_redis_layer_reading_no_longer_than_its_blocking_receive_is_w001(settings, hosts, ids):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": REDIS_LAYER, "CONFIG": {"hosts": hosts}}}

    warnings = check_channel_layers()

    assert [w.id for w in warnings] == ids
    if warnings:
        assert warnings[0].hint == (
            'Set "socket_timeout": 10 in the host\'s dict, e.g. {"address": '
            '"redis://127.0.0.1:6379/0", "socket_timeout": 10}.'
        )


def test_w001_names_the_layer_and_the_host(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
        "live": {
            "BACKEND": REDIS_LAYER,
            "CONFIG": {
                "hosts": [
                    {"address": "redis://a/0", "socket_timeout": 10},
                    "redis://b/0?socket_timeout=5",
                ]
            },
        },
    }

    (warning,) = check_channel_layers()

    assert warning.msg == (
        "CHANNEL_LAYERS['live'] host 1: redis-py gives up reading after 5.0 s (socket_timeout), "
        "but channels_redis waits up to 5 s for a socket's messages, so idle WebSockets close "
        "with 'Timeout reading'."
    )


@pytest.mark.parametrize(
    "layers",
    [
        {},
        {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
        {"default": {"BACKEND": "no.such.Layer"}},
        {"default": {"BACKEND": REDIS_LAYER, "CONFIG": {"hosts": 42}}},
    ],
)
def test_other_or_broken_layers_get_no_w001(settings, layers):
    settings.CHANNEL_LAYERS = layers

    assert check_channel_layers() == []


def test_the_example_projects_redis_layer_passes_the_checks(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "PYTHONPATH": str(REPO),
    }

    result = subprocess.run(
        [sys.executable, str(MANAGE), "check", "--fail-level", "WARNING"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "W001" not in result.stderr + result.stdout
