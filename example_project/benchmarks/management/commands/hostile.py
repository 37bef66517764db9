"""`manage.py hostile`: a victim's latency while anonymous clients send costly GraphQL documents.

Serves the example project of this checkout (or of ``--serve PATH``) under daphne (one
process, as a small deployment runs it) on a free port of 127.0.0.1, with a throwaway SQLite
database. A victim
sends a plain GraphQL GET, one at a time, first alone, then while ``--attackers`` anonymous
clients send GETs of the hostile documents of _validation.py in turn, each made distinct by a
comment so no cache helps. Prints the
victim's median and p95 latency in both phases and what the attackers' requests took.
Everything stops by itself after ``--seconds`` per phase.

    python example_project/manage.py hostile --seconds 10
    python example_project/manage.py hostile --only "1,990"      # the issue's attack
    python example_project/manage.py hostile --serve /path/to/a/worktree/of/main
"""

from __future__ import annotations

import http.client
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.core.management.base import BaseCommand, CommandError, CommandParser

from example_project.benchmarks.management.commands._servers import HOST, free_port, stop
from example_project.benchmarks.management.commands._validation import hostile_documents

REPOSITORY = Path(__file__).resolve().parents[4]
VICTIM_QUERY = "{ myMessageCount }"
DAPHNE = (sys.executable, "-m", "daphne")
#: Seconds daphne may take to answer its first request.
STARTUP_TIMEOUT = 30.0


def distinct(document: str, n: int) -> str:
    """``document`` made the n-th distinct one by a comment, at the same length if it can be."""
    tag = f"#{n}\n"
    if document.startswith("\n" * len(tag)):
        return tag + document[len(tag) :]
    return tag + document


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at ``fraction`` of the sorted samples (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def get_ms(url: str) -> tuple[float, int]:
    """One GET: its wall time in ms and its HTTP status (0: the server closed the connection)."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    except (ConnectionError, http.client.HTTPException):
        status = 0
    return (time.perf_counter() - start) * 1000, status


class Command(BaseCommand):
    help = (
        "Measure a plain GraphQL GET's latency under daphne, alone and while anonymous clients "
        "send distinct hostile documents."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=10, help="Length of each phase.")
        parser.add_argument("--attackers", type=int, default=2, help="Concurrent attackers.")
        parser.add_argument(
            "--only",
            default="",
            help="Send only the documents whose description contains this text, e.g. '1,990'.",
        )
        parser.add_argument(
            "--serve",
            type=Path,
            default=REPOSITORY,
            help="The checkout whose example project daphne serves (another worktree, to "
            "compare): the documents stay this checkout's.",
        )

    def handle(
        self,
        *args: object,
        seconds: float,
        attackers: int,
        only: str,
        serve: Path,
        **options: object,
    ) -> None:
        if not 1 <= seconds <= 120 or not 1 <= attackers <= 8:
            raise CommandError("--seconds must be 1-120 and --attackers 1-8.")
        serve = serve.resolve()
        if not (serve / "example_project" / "manage.py").is_file():
            raise CommandError(f"{serve} holds no example_project/manage.py.")
        with tempfile.TemporaryDirectory(prefix="hostile_") as folder:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
                "DJANGO_SETTINGS_MODULE": "example_project.settings",
                "DJANGO_DEBUG": "false",
                "PYTHONPATH": str(serve),
            }
            env.pop("REDIS_URL", None)
            manage = [sys.executable, str(serve / "example_project" / "manage.py")]
            subprocess.run([*manage, "migrate", "--verbosity=0"], env=env, check=True)
            port = free_port()
            log_path = Path(folder) / "daphne.log"
            with log_path.open("w") as log:
                server = subprocess.Popen(
                    [*DAPHNE, "-b", HOST, "-p", str(port), "example_project.asgi:application"],
                    env=env,
                    cwd=serve,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    self.stdout.write(f"Serving {serve} under daphne on port {port}")
                    self.measure(f"http://{HOST}:{port}/graphql", server, seconds, attackers, only)
                finally:
                    stop(server, timeout=10)

    def measure(
        self,
        url: str,
        server: subprocess.Popen[bytes],
        seconds: float,
        attackers: int,
        only: str,
    ) -> None:
        """Wait for daphne, then run the two phases and print the figures."""
        victim_url = f"{url}?query={quote(VICTIM_QUERY)}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if server.poll() is not None:
                raise CommandError(f"daphne exited with {server.returncode}.")
            try:
                urllib.request.urlopen(victim_url, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise CommandError("daphne did not answer in time.") from None
                time.sleep(0.2)
        write = self.stdout.write
        write(f"Victim: GET {VICTIM_QUERY}; {attackers} attackers: _validation.py's documents")
        alone = self.victim(victim_url, seconds)
        victim_done = threading.Event()
        attacks: list[tuple[str, float, int]] = []
        counter = itertools.count()
        variants = [(what, document) for what, document in hostile_documents() if only in what]
        if not variants:
            raise CommandError(f"No document's description contains {only!r}.")

        def attack() -> None:
            while not victim_done.is_set():
                n = next(counter)
                what, document = variants[n % len(variants)]
                ms, status = get_ms(f"{url}?query={quote(distinct(document, n))}")
                attacks.append((what, ms, status))

        threads = [threading.Thread(target=attack, daemon=True) for _ in range(attackers)]
        for thread in threads:
            thread.start()
        try:
            attacked = self.victim(victim_url, seconds)
        finally:
            victim_done.set()
            for thread in threads:
                thread.join(timeout=70)
        write("")
        for phase, samples in (("alone", alone), (f"{attackers} attackers", attacked)):
            write(
                f"  victim {phase:<12} {len(samples):>5} GETs   median "
                f"{statistics.median(samples):8.1f} ms   p95 {percentile(samples, 0.95):8.1f} ms"
            )
        for what, _ in variants:
            times = [ms for kind, ms, _ in attacks if kind == what]
            statuses = sorted({status for kind, _, status in attacks if kind == what})
            if times:
                write(
                    f"  attack {what[:50]:<50} {len(times):>4} GETs   median "
                    f"{statistics.median(times):8.1f} ms   status {statuses}"
                )

    def victim(self, url: str, seconds: float) -> list[float]:
        """The victim's GET latencies, one request after another, for ``seconds``."""
        samples: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ms, status = get_ms(url)
            if status != 200:
                raise CommandError(f"The victim's GET answered {status}.")
            samples.append(ms)
            time.sleep(0.02)
        return samples
