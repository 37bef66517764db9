"""`manage.py bench --compare-python PATH`: this package and django-user-messages 1.1 side by side.

Both packages are imported as ``user_messages``, so each runs in its own interpreter: this one for
this project, PATH (a virtualenv with django-user-messages 1.1) for the other, each executing
``_compare_worker.py`` on a throwaway database of its own that its package migrates. The workers
take turns, batch by batch and in alternating order, so that both see the same load on a shared
machine; each figure is the median over all batches.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.management.base import CommandError

from example_project.benchmarks.management.commands._throwaway import empty_database

WORKER = Path(__file__).with_name("_compare_worker.py")
REPOSITORY = Path(__file__).resolve().parents[4]
#: What a worker needs to reach the database; the rest of Django's settings stay in this process.
DATABASE_KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")

#: (workload, label) in the order they are printed.
WORKLOADS = [
    ("raw_select", "raw SQL: the nothing-pending SELECT, cursor.execute"),
    ("raw_write", "raw SQL: one UPDATE of one row, committed"),
    ("get_messages_empty", "get_messages(user=...), nothing pending"),
    ("get_messages_five", "get_messages(user=...), 5 to deliver"),
    ("page_floor", "page, django.contrib.messages only (floor)"),
    ("page_empty", "logged-in page, nothing pending"),
    ("page_five", "logged-in page, 5 to deliver"),
    ("page_raw_empty", "floor page running only our raw SELECT"),
    ("page_raw_five", "floor page running only our SELECT + claim of 5"),
    ("send_id", "api.info(user_id, ...)"),
    ("send_user", "api.info(user, ...)"),
]


@dataclass
class Target:
    """One worker process and the package it imports."""

    label: str
    process: subprocess.Popen[str]
    info: dict[str, Any]

    def ask(self, request: dict[str, Any]) -> Any:
        """Send one request, return its answer; a worker's failure stops the bench."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise CommandError(f"The {self.label} worker exited (code {self.process.wait()}).")
        answer = json.loads(line)
        if "error" in answer:
            raise CommandError(
                f"The {self.label} worker failed on {request}: {answer['error']}\n"
                f"{answer.get('traceback', '')}"
            )
        return answer


@contextlib.contextmanager
def _worker(label: str, command: list[str], env: dict[str, str]) -> Iterator[Target]:
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        yield Target(label, process, {})
    finally:
        stdin: IO[str] | None = process.stdin
        if stdin is not None:
            stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _environment(python_path: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "PYTHONHOME"}
    }
    if python_path:
        env["PYTHONPATH"] = python_path
    return env


def compare(
    write: Any,
    other_python: str,
    *,
    users: int,
    messages: int,
    pending: int,
    repeat: int,
    label: str = "1.1",
) -> list[str]:
    """Run every workload and check on both targets, print the table; return missed targets.

    ``label`` names the other side in the table (another version of this package, say).
    """
    if not Path(other_python).is_file():
        raise CommandError(
            f"--compare-python {other_python!r} is not a file; pass the python of a virtualenv "
            "with django-user-messages 1.1 (docs: explanation/performance.md)."
        )
    setup = {"op": "setup", "users": users, "messages": messages, "pending_per_user": pending}
    with (
        empty_database("bench_compare_ours") as ours_db,
        empty_database("bench_compare_11") as theirs_db,
        # This project's package from this repository; the other side sees nothing of it: -I
        # ignores PYTHONPATH and the user site, and leaves the script's folder off sys.path.
        _worker(
            "this package", [sys.executable, str(WORKER)], _environment(str(REPOSITORY))
        ) as ours,
        _worker(label, [other_python, "-I", str(WORKER)], _environment(None)) as theirs,
    ):
        for target, database in ((ours, ours_db), (theirs, theirs_db)):
            settings = {key: database[key] for key in DATABASE_KEYS if key in database}
            # Connections kept between requests, as in production (and the example project).
            settings["CONN_MAX_AGE"] = None
            write(f"Setting up {target.label}: {messages:,} rows for {users:,} users ...")
            target.info = target.ask({**setup, "database": settings})["info"]
        if Path(theirs.info["file"]).resolve().is_relative_to(REPOSITORY):
            raise CommandError(
                f"The --compare-python interpreter imported this repository's package "
                f"({theirs.info['file']}); use a virtualenv with django-user-messages 1.1."
            )
        for target in (ours, theirs):
            info = target.info
            write(
                f"  {target.label:<13} {info['package']} ({info['file']}), Python "
                f"{info['python']}, Django {info['django']}, {info['vendor']}, "
                f"{info['rows']:,} rows (generated in {info['generate_seconds']:.1f} s)"
            )
        medians = _time_alternating(write, ours, theirs, repeat)
        # Prepared statements (docs: explanation/performance.md) take the planning off the read.
        speedup = 4.0 if _prepares_statements(ours_db) else 2.5
        checks = {
            target.label: {
                name: target.ask({"op": "check", "name": name})["result"]
                for name in ("query_counts", "exactly_once")
            }
            for target in (ours, theirs)
        }
    return _print_table(write, medians, checks, repeat, label, speedup)


def _prepares_statements(database: dict[str, Any]) -> bool:
    """Whether PostgreSQL binds on the server and prepares statements, as the docs suggest."""
    options = database.get("OPTIONS") or {}
    return (
        "postgresql" in database["ENGINE"]
        and options.get("server_side_binding") is True
        and options.get("prepare_threshold") is not None
    )


def _time_alternating(
    write: Any, ours: Target, theirs: Target, repeat: int
) -> dict[str, dict[str, float]]:
    # Many short turns: a burst of load from another process lands on both targets alike.
    rounds = 25
    calls = max(1, repeat // rounds)
    samples: dict[str, dict[str, list[float]]] = {
        name: {"ours": [], "theirs": []} for name, _ in WORKLOADS
    }
    write(f"\nTiming: {rounds} rounds of {calls} calls per figure and target, alternating ...")
    for round_number in range(rounds):
        pair = [("ours", ours), ("theirs", theirs)]
        order = pair if round_number % 2 == 0 else pair[::-1]
        for name, _label in WORKLOADS:
            for key, target in order:
                times = target.ask({"op": "time", "workload": name, "calls": calls})["times"]
                samples[name][key].extend(times)
    return {
        name: {key: statistics.median(values) * 1000 for key, values in by_target.items()}
        for name, by_target in samples.items()
    }


def _print_table(
    write: Any,
    ms: dict[str, dict[str, float]],
    checks: dict[str, dict[str, dict[str, Any]]],
    repeat: int,
    other: str,
    speedup: float,
) -> list[str]:
    failures: list[str] = []

    def row(label: str, ours: str, theirs: str, ratio: str = "", verdict: str = "") -> None:
        write(f"  {label:<52} {ours:>12} {theirs:>12} {ratio:>10}  {verdict}".rstrip())

    def target(what: str, met: bool, figure: str) -> str:
        if not met:
            failures.append(f"{what}: {figure}")
        return f"{what}: {figure} {'PASS' if met else 'FAIL'}"

    write(f"\nSide by side (medians of {repeat} calls per target)")
    row("", "this package", other, f"{other}/ours")
    for name, label in WORKLOADS:
        ours, theirs = ms[name]["ours"], ms[name]["theirs"]
        row(label, f"{ours:.3f} ms", f"{theirs:.3f} ms", f"{theirs / ours:.2f}x")

    write("\nTargets")
    read, raw = ms["get_messages_empty"], ms["raw_select"]["ours"]
    write(
        "  "
        + target(
            "get_messages nothing pending <= 1.5x the raw statement",
            read["ours"] / raw <= 1.5,
            f"{read['ours'] / raw:.2f}x",
        )
    )
    write(
        "  "
        + target(
            f"get_messages nothing pending >= {speedup}x faster than {other}",
            read["theirs"] / read["ours"] >= speedup,
            f"{read['theirs'] / read['ours']:.2f}x",
        )
    )
    # What a page would cost if the package added nothing but its statements: the floor page
    # running our raw SELECT, or, when it delivers, our SELECT and claiming UPDATE of 5 rows.
    bounds = {"page_empty": "page_raw_empty", "page_five": "page_raw_five"}
    for key, limit in (("page_empty", 1.15), ("page_five", 1.6)):
        ours, theirs = (ms[key][side] / ms["page_floor"][side] for side in ("ours", "theirs"))
        label = f"{dict(WORKLOADS)[key]} vs floor <= x{limit}"
        write("  " + target(label, ours <= limit, f"x{ours:.2f}"))
        bound = ms[bounds[key]]["ours"] / ms["page_floor"]["ours"]
        write(
            f"    {other}: x{theirs:.2f}; the floor page running only our statements: x{bound:.2f}"
        )
    for key in ("send_id", "send_user"):
        speed = ms[key]["theirs"] / ms[key]["ours"]
        write(
            "  "
            + target(
                f"{dict(WORKLOADS)[key]} at least as fast as {other}",
                speed >= 1.0,
                f"{speed:.2f}x",
            )
        )

    write("\nCorrectness (same command, both targets)")
    row("", "this package", other)
    ours_checks, theirs_checks = checks["this package"], checks[other]
    counts = [
        ("get_messages_empty", "statements: get_messages, nothing pending"),
        ("get_messages_five", "statements: get_messages delivering 5"),
        ("five_shown", "messages shown by that read"),
        ("page_shown", "page with 5 pending: messages on the page"),
        ("send_id", "statements: api.info(user_id, ...)"),
        ("send_user", "statements: api.info(user, ...)"),
        ("unknown_id", "api.info(unknown id): raises"),
        ("unknown_id_rows", "api.info(unknown id): rows written"),
    ]
    for key, label in counts:
        row(label, str(ours_checks["query_counts"][key]), str(theirs_checks["query_counts"][key]))
    once = [
        ("sent", "4 senders x 40 deliver-once, 4 readers: sent"),
        ("shown_once", "  shown exactly once"),
        ("lost", "  lost (delivered, never shown)"),
        ("duplicated", "  duplicated (shown twice or more)"),
        ("error_count", "  errors in threads"),
    ]
    for key, label in once:
        row(label, str(ours_checks["exactly_once"][key]), str(theirs_checks["exactly_once"][key]))
    for label, result in checks.items():
        for error in result["exactly_once"]["errors"]:
            write(f"    {label}: {error}")
    mine_once = ours_checks["exactly_once"]
    met = mine_once["lost"] == 0 and mine_once["duplicated"] == 0 and not mine_once["error_count"]
    write(
        "  "
        + target(
            "this package: exactly once", met, f"{mine_once['shown_once']} of {mine_once['sent']}"
        )
    )
    mine = ours_checks["query_counts"]
    met = (mine["get_messages_empty"], mine["get_messages_five"], mine["send_id"]) == (1, 2, 1)
    write(
        "  "
        + target(
            "this package: 1 / 2 / 1 statements (read empty / delivering / send by id)",
            met,
            f"{mine['get_messages_empty']} / {mine['get_messages_five']} / {mine['send_id']}",
        )
    )
    return failures
