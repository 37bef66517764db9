"""The server processes the load tests start: a free port to serve on, and a clean stop.

loadtest (gunicorn), its --realtime mode (daphne) and hostile (daphne) all use these; they live
here rather than in loadtest.py so that _realtime.py need not import the command that imports it.
"""

from __future__ import annotations

import socket
import subprocess

HOST = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def stop(server: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a server gracefully (SIGTERM; gunicorn's master passes it on), then by force."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
