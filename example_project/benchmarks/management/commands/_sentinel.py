"""A local Redis Sentinel set: one primary, one replica, three sentinels, on free ports.

`loadtest --realtime --sentinel` and tests/test_realtime_sentinel.py start one, kill its primary
under load and watch the sentinels promote the replica. Debian's redis-server binary serves all
five (``redis-server FILE --sentinel`` is what the redis-sentinel package's binary runs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from example_project.benchmarks.management.commands._servers import HOST, free_port

#: The name the sentinels know the primary by: channels_redis's ``master_name``.
MASTER_NAME = "user_messages"
#: How long a sentinel waits before it considers the primary down (Redis' default: 30 s).
DOWN_AFTER_MS = 1000


class SentinelSet:
    """Five redis-server processes in ``directory``; ``stop()`` ends whichever still run."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory = directory
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        try:
            # A primary waits 5 s for more replicas before it sends its data to one, by default.
            self._server(self.primary_port, "--repl-diskless-sync-delay", "0")
            self._server(self.replica_port, "--replicaof", HOST, str(self.primary_port))
            # Synced before the sentinels start: their first look at the primary finds the
            # replica, instead of the next one 10 s later.
            self.wait(lambda: self._replica_synced(), "the replica to sync")
            for port in self.sentinel_ports:
                self._sentinel(port)
            # A failover needs a replica to promote and a majority of sentinels that know each
            # other (they meet through the primary every 2 s).
            self.wait(lambda: self._sentinels_ready(), "the sentinels to see the replica")
        except BaseException:
            self.stop()
            raise

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """channels_redis's ``sentinels``: (host, port) of each sentinel."""
        return [(HOST, port) for port in self.sentinel_ports]

    def host(self, **connection: Any) -> dict[str, Any]:
        """A channels_redis host entry for this set, with these redis-py connection options."""
        return {
            "sentinels": self.sentinels,
            "master_name": MASTER_NAME,
            # The sentinels' own connections: a sentinel that hangs must not hang a lookup.
            "sentinel_kwargs": {"socket_timeout": 1},
            **connection,
        }

    def kill_primary(self) -> float:
        """SIGKILL the current primary, as a crashed host; the monotonic time it happened."""
        port = self.primary()
        os.kill(self.processes[port].pid, signal.SIGKILL)
        self.processes.pop(port).wait()
        return time.monotonic()

    def primary(self) -> int:
        """The port the sentinels name as the primary now."""
        with _client(self.sentinel_ports[0]) as sentinel:
            _, port = sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def wait(self, condition: Any, what: str, timeout: float = 30) -> None:
        """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Timed out waiting for {what} ({timeout:.0f} s).")
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def _server(self, port: int, *arguments: str) -> None:
        folder = self.directory / f"redis-{port}"
        folder.mkdir()
        self.processes[port] = subprocess.Popen(
            [
                *("redis-server", "--port", str(port), "--bind", HOST),
                *("--save", "", "--appendonly", "no", "--dir", str(folder), *arguments),
            ],
            stdout=subprocess.DEVNULL,
        )
        self.wait(lambda: _ping(port), f"Redis on port {port}")

    def _sentinel(self, port: int) -> None:
        # A sentinel rewrites its configuration file as it learns the set: one file each. The
        # set is written in it as a sentinel would have learnt it (the others by their ids, the
        # replica), which it otherwise learns through the primary every 2 to 10 s.
        others = "".join(
            f"sentinel known-sentinel {MASTER_NAME} {HOST} {other} {_sentinel_id(other)}\n"
            for other in self.sentinel_ports
            if other != port
        )
        config = self.directory / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\nbind {HOST}\ndir {self.directory}\n"
            f"sentinel myid {_sentinel_id(port)}\n"
            f"sentinel monitor {MASTER_NAME} {HOST} {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel known-replica {MASTER_NAME} {HOST} {self.replica_port}\n{others}"
        )
        self.processes[port] = subprocess.Popen(
            ["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL
        )
        self.wait(lambda: _ping(port), f"the sentinel on port {port}")

    def _replica_synced(self) -> bool:
        with _client(self.replica_port) as replica:
            return replica.info("replication").get("master_link_status") == "up"

    def _sentinels_ready(self) -> bool:
        for port in self.sentinel_ports:
            with _client(port) as sentinel:
                replicas = sentinel.sentinel_slaves(MASTER_NAME)
                others = sentinel.sentinel_sentinels(MASTER_NAME)
            if len(others) < 2 or not any(int(r["port"]) == self.replica_port for r in replicas):
                return False
        return True


def _sentinel_id(port: int) -> str:
    """A sentinel's run id (40 hex digits), made of its port."""
    return f"{port:040x}"


def _client(port: int) -> Any:
    import redis

    return redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=2)


def _ping(port: int) -> bool:
    with _client(port) as client:
        return bool(client.ping())
