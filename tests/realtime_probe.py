"""Issue 21's probe, small: hostile sockets, then changes; group sizes and server memory.

    .venv/bin/python -m tests.realtime_probe [--sockets 200] [--changes 100] [--server daphne]

Runs the example project under a real server on a throwaway SQLite database and a redis-server
of its own, with one live graphql-ws socket for a signed-in user. That user then opens SOCKETS
raw sockets that each send a subscription whose root field is skipped, and CHANGES messages
are sent to them from a shell. Prints one JSON object: the answers the hostile sockets got, the
ZCARD of the user's group and of the shared group, and the server's resident memory, each
before the hostile sockets, after them, and after the changes.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import tempfile
from pathlib import Path

from tests.test_realtime_e2e import (
    SKIPPED_ROOT,
    LiveClient,
    RedisServer,
    Server,
    groups_of,
    manage,
    project_environment,
    raw_frames,
    shell,
    signed_in,
)


def main() -> None:
    """Run the probe and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--server", default="daphne", choices=["daphne", "uvicorn", "gunicorn"])
    options = parser.parse_args()
    node = shutil.which("node")
    assert node is not None, "needs node and `npm ci` in tests/clients"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        redis_server = RedisServer(work)
        env = {
            **project_environment(work / "db.sqlite3"),
            "REDIS_URL": redis_server.url,
            "REDIS_CHANNEL_PREFIX": "probe",
        }
        manage(env, "migrate", "--verbosity=0")
        user_id, cookie = signed_in(env, "prober")
        server = Server(options.server, env)
        live = LiveClient(node, server.ws_url, origin=server.origin, cookie=cookie)
        try:
            assert live.next_event(timeout=30) == {"count": 0}
            figures = {"start": measure(server, redis_server, env, user_id)}

            answers = raw_frames(node, server, cookie, [[SKIPPED_ROOT]] * options.sockets, work)
            figures["answers"] = dict(
                collections.Counter(
                    f"{[m.get('type') for m in answer['messages']]} closed {answer['closed']}"
                    for answer in answers
                )
            )
            figures["after hostile sockets"] = measure(server, redis_server, env, user_id)

            shell(
                env,
                "from user_messages import api\n"
                f"for n in range({options.changes}):\n"
                f"    api.info({user_id}, f'Change {{n}}.')",
            )
            while live.next_event(timeout=60) != {"count": options.changes}:
                pass
            figures["after changes"] = measure(server, redis_server, env, user_id)
        finally:
            live.stop()
            server.stop()
            redis_server.stop()
    print(json.dumps(figures, indent=2))


def measure(
    server: Server, redis_server: RedisServer, env: dict[str, str], user_id: str
) -> dict[str, int]:
    user, everyone = redis_server.group_sizes(env, *groups_of(user_id))
    return {"user group": user, "shared group": everyone, "server RSS KiB": server.rss_kib()}


if __name__ == "__main__":
    main()
