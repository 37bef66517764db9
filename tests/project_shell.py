"""Python code run in the example project, in a process of its own that stays up between calls.

``manage.py shell -c CODE`` costs a new interpreter and Django's set-up every time: about 0.8 s
of CPU, and the end-to-end suites ran it over a hundred times. ``run(env, code)`` sends CODE to
one long-lived process per environment instead, which runs it as ``shell -c`` would: in a fresh
namespace, with what it prints captured, and with every database connection closed afterwards
(so that each call, like a new process, sees what the servers committed and holds no lock).
It is still another process than the servers and the test, with the project's own settings.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Runs in the project's process: one JSON-encoded piece of code per line in, one JSON answer
#: per line out.
_DRIVER = r"""
import contextlib, io, json, sys, traceback
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from django.db import connections
answers = sys.stdout
sys.stdout = sys.stderr  # what the project prints outside a call stays off the answers
for line in sys.stdin:
    printed = io.StringIO()
    failure = None
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(json.loads(line), "<shell -c>", "exec"), {"__name__": "__main__"})
    except BaseException:
        failure = traceback.format_exc()
    finally:
        connections.close_all()
    answers.write(json.dumps({"printed": printed.getvalue(), "failure": failure}) + "\n")
    answers.flush()
"""


class ProjectShell:
    """One Python process with the example project's settings, running code sent to it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, str(REPO)],
            env={"DJANGO_SETTINGS_MODULE": "example_project.settings", **env},
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # A file, not a pipe: a process that logs more than a pipe holds would block.
            stderr=self.errors,
            text=True,
        )

    def run(self, code: str) -> str:
        """Run ``code``; what it printed. A failure raises AssertionError with its traceback."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(code) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.errors.seek(0)
            raise AssertionError(f"the project's shell exited:\n{self.errors.read()}")
        answer = json.loads(line)
        assert answer["failure"] is None, answer["failure"]
        return str(answer["printed"])

    def close(self) -> None:
        """End the process (its stdin closes: the loop ends)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.close()


_shells: dict[tuple[tuple[str, str], ...], ProjectShell] = {}


def run(env: dict[str, str], code: str) -> str:
    """Run ``code`` in the example project with this environment; what it printed."""
    key = tuple(sorted(env.items()))
    shell = _shells.get(key)
    if shell is None or shell.process.poll() is not None:
        shell = _shells[key] = ProjectShell(env)
    return shell.run(code)


def forget_redis(url: str) -> None:
    """End the processes kept for environments on this Redis (a test's own, going away)."""
    for key in [key for key in _shells if ("REDIS_URL", url) in key]:
        _shells.pop(key).close()


@atexit.register
def _close_all() -> None:
    while _shells:
        _shells.popitem()[1].close()
