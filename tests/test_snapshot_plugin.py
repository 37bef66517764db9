"""Our snapshottest plugin really compares snapshots, and never writes one unasked.

These run a small suite in a subprocess, so they prove it on the Python running the tests
(CI runs them on 3.11 and on 3.12+, where snapshottest alone cannot even be imported).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# The plugin's behaviour depends on the Python, not on the database: the runs on SQLite (one per
# Python in .ci/run) cover it.
pytestmark = pytest.mark.engine_independent  # independent of the database

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["-p", "no:snapshottest", "-p", "no:django", "-p", "tests.snapshot_plugin", "-q"]


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        test_sample="""
        import os

        def test_value(snapshot):
            snapshot.assert_match({"answer": int(os.environ.get("ANSWER", "42"))})
        """
    )
    return pytester


def snapshot_file(pytester) -> Path:
    return pytester.path / "snapshots" / "snap_test_sample.py"


def test_a_missing_snapshot_fails_and_is_not_written(suite):
    result = suite.runpytest_subprocess(*ARGS)

    assert result.ret == 1
    result.stdout.fnmatch_lines(["*Snapshot 'test_value 1' is missing*--snapshot-update*"])
    assert not snapshot_file(suite).exists()


def test_snapshot_update_writes_and_later_runs_compare(suite, monkeypatch):
    assert suite.runpytest_subprocess(*ARGS, "--snapshot-update").ret == 0
    assert "'answer': 42" in snapshot_file(suite).read_text()

    assert suite.runpytest_subprocess(*ARGS).ret == 0

    monkeypatch.setenv("ANSWER", "43")
    result = suite.runpytest_subprocess(*ARGS)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*1 failed*"])
    assert "'answer': 42" in snapshot_file(suite).read_text()


def test_the_imp_shim_is_what_loads_snapshots():
    # On 3.12+ there is no imp module; on older Pythons we install the shim all the same.
    assert sys.modules["imp"].load_source.__module__ == "tests.snapshot_plugin"
