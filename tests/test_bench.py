"""`manage.py bench` runs end to end at tiny sizes and prints every section's figures.

The figures at these sizes mean nothing (the broadcast target may miss); what is checked is that
the bench still measures what the docs' performance page says it does, the send -> event
comparison included: three daphne processes (the floor and each GraphQL stack), real graphql-ws
clients in Node, Redis between the bench and the servers.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_realtime_e2e import MANAGE, REPO, node, project_environment

pytestmark = [
    # Its cache figures use (and clear) the Redis database REDIS_URL names, as tests/test_cache.py.
    pytest.mark.xdist_group("shared-redis"),
    pytest.mark.engine_independent,  # the bench runs on a SQLite file of its own
    pytest.mark.version_independent,  # a measuring tool: CI runs it once
    pytest.mark.skipif(
        importlib.util.find_spec("strawberry") is None
        or importlib.util.find_spec("graphene") is None,
        reason="the bench compares both GraphQL stacks",
    ),
]
__all__ = ["node"]  # the fixture, found by pytest as an attribute of this module

SECTIONS = [
    "GraphQL stacks side by side",
    "Validation of hostile documents",
    "Sending",
    "Sending in a category that 1 in 10 users turned off",
    "Live updates side by side: send -> event",
]


def test_the_bench_prints_every_section_and_the_send_to_event_latency_of_each_server(
    node: str, tmp_path: Path
) -> None:
    env = project_environment(tmp_path / "db.sqlite3")
    # The Redis every run has (the cache figures use it too); the bench uses a prefix of its own.
    env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    result = subprocess.run(
        [
            sys.executable,
            str(MANAGE),
            "bench",
            "--users=20",
            "--messages=200",
            "--repeat=3",
            "--live-rounds=4",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for section in SECTIONS:
        assert section in output, output
    for server in ("floor", "graphene", "strawberry"):
        found = re.search(
            rf"send -> event, {server} \((\d+) sends\)\s+p50 ([\d.]+) ms, p99 ([\d.]+) ms", output
        )
        assert found, output
        assert int(found[1]) == 4
        assert 0 < float(found[2]) <= float(found[3])
    assert re.search(r"send -> event p50: Strawberry / graphene\s+[\d.]+x", output), output


def test_the_acknowledge_all_bench_shows_nothing_twice(tmp_path: Path) -> None:
    env = project_environment(tmp_path / "db.sqlite3")
    result = subprocess.run(
        [sys.executable, str(MANAGE), "bench", "--acknowledge-all=300"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert len(re.findall(r"acknowledge_all alone, run \d: .* s, 300 acknowledged", text)) == 3
    racing = re.search(r"acknowledge_all with reads started .*: .* s, ([\d,]+) acknowledged", text)
    shown = re.search(r"consuming read of the same user: .* s, (\d+) shown", text)
    assert racing, text
    assert shown, text
    # Exactly once: what the racing read showed was not acknowledged, and the rest was.
    assert int(racing.group(1).replace(",", "")) + int(shown.group(1)) == 300
    assert re.search(r"consuming read of another user: .* ms, 1 shown", text), text


def test_the_async_reads_bench_times_both_forms_of_each_read(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(MANAGE), "bench", "--async-reads=20"],
        env=project_environment(tmp_path / "db.sqlite3"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for read in ("get_messages, nothing pending", "get_messages, 5 pending", "pending_count"):
        line = rf"  {read}.*: sync \d+ us \(p90 \d+\), async \d+ us \(p90 \d+\), [+-]\d+ us awaited"
        assert re.search(line, result.stdout), result.stdout
