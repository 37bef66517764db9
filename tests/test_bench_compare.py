"""The worker behind `bench --compare-python`, run as the bench runs it, on this package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
WORKER = (
    REPOSITORY / "example_project" / "benchmarks" / "management" / "commands" / "_compare_worker.py"
)
WORKLOADS = [
    "raw_select",
    "raw_write",
    "get_messages_empty",
    "get_messages_five",
    "page_floor",
    "page_empty",
    "page_five",
    "page_raw_empty",
    "page_raw_five",
    "send_id",
    "send_user",
]

# The worker uses a SQLite file of its own; a measuring tool, run once in CI.
pytestmark = [pytest.mark.engine_independent, pytest.mark.version_independent]


def test_the_compare_worker_reports_figures_and_exactly_once_for_this_package(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPOSITORY)
    worker = subprocess.Popen(
        [sys.executable, str(WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )

    def ask(request: dict[str, Any]) -> Any:
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.write(json.dumps(request) + "\n")
        worker.stdin.flush()
        answer = json.loads(worker.stdout.readline())
        assert "error" not in answer, answer.get("traceback")
        return answer

    database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "db.sqlite3"),
        "OPTIONS": {"timeout": 30},
    }
    try:
        info = ask(
            {
                "op": "setup",
                "database": database,
                "users": 20,
                "messages": 200,
                "pending_per_user": 2,
            }
        )["info"]
        # Every workload runs; the bound that replays the delivering statements checks itself
        # that its claim changed the 5 rows its setup stored.
        times = {
            name: ask({"op": "time", "workload": name, "calls": 3})["times"] for name in WORKLOADS
        }
        counts = ask({"op": "check", "name": "query_counts"})["result"]
        once = ask({"op": "check", "name": "exactly_once"})["result"]
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(timeout=60)

    assert Path(info["file"]) == REPOSITORY / "user_messages" / "__init__.py"
    assert info["rows"] == 200
    assert {name: len(calls) for name, calls in times.items()} == dict.fromkeys(WORKLOADS, 3)
    assert counts == {
        "get_messages_empty": 1,
        "get_messages_five": 2,
        "five_shown": 5,
        "page_shown": 5,
        "send_id": 1,
        "send_user": 1,
        "unknown_id": "ValueError",
        "unknown_id_rows": 0,
    }
    assert once == {
        "sent": 160,
        "shown_once": 160,
        "lost": 0,
        "duplicated": 0,
        "errors": [],
        "error_count": 0,
    }
