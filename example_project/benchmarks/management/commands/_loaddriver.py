"""Load driver for `manage.py loadtest`, run as its own process: stdlib only, no Django.

Protocol on stdin/stdout, one JSON object per line:
  argv[1]  the configuration (see loadtest.py);
  stdout   {"event": "logged_in", ...} once every session is signed in, then the timed phase runs;
  stdin    the line "drain" once every sender, also the parent's, has stopped;
  stdout   {"event": "done", ...}: counts, latencies, errors and the ids each user was shown.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

#: Seconds a single request may take before it counts as an error.
REQUEST_TIMEOUT = 10.0


class Session:
    """One signed-in browser: cookies shared by the threads (tabs) that use it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection (gunicorn's sync workers close it anyway)."""
        headers = dict(headers or {})
        with self.lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self._remember(response.headers.get_all("Set-Cookie") or [])
            return response.status, dict(response.headers.items()), data
        finally:
            connection.close()

    def _remember(self, set_cookies: list[str]) -> None:
        with self.lock:
            for header in set_cookies:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value

    def csrf_token(self) -> str:
        """The token Django expects in X-CSRFToken: the csrftoken cookie's value."""
        with self.lock:
            return self.cookies.get("csrftoken", "")


class Stats:
    """Thread-safe request counts, latencies and errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.error_count = 0

    def timed(self, operation: str, seconds: float) -> None:
        """Record one request's latency."""
        with self.lock:
            self.latencies[operation].append(seconds * 1000)

    def error(self, text: str) -> None:
        """Record an error; the first 20 are kept verbatim for the report."""
        with self.lock:
            self.error_count += 1
            if len(self.errors) < 20:
                self.errors.append(text[:500])

    def summary(self) -> dict[str, dict[str, float]]:
        """Count, median, 95th percentile and maximum per operation."""
        result = {}
        for operation, values in self.latencies.items():
            ordered = sorted(values)
            result[operation] = {
                "count": len(ordered),
                "p50": statistics.median(ordered),
                "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
                "max": ordered[-1],
            }
        return result


class Driver:
    """Logs everyone in, runs readers and senders until the deadline, then drains."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.host: str = config["host"]
        self.port: int = config["port"]
        self.operations: dict[str, str] = config["operations"]
        self.stats = Stats()
        self.seen_lock = threading.Lock()
        # user id -> ids of deliver-once messages shown to that user, repeats kept
        self.seen: dict[int, list[int]] = defaultdict(list)
        self.sticky_acknowledged: set[int] = set()
        self.sent_by_graphql = 0
        self.sessions: dict[int, Session] = {}

    def log_in(self, username: str, password: str) -> Session:
        """GET the login form for its CSRF cookie, POST it; success is the redirect."""
        session = Session(self.host, self.port)
        start = time.perf_counter()
        status, _headers, _body = session.request("GET", "/accounts/login/")
        if status != 200:
            raise RuntimeError(f"GET /accounts/login/ answered {status}")
        form = urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": session.csrf_token(),
            }
        ).encode()
        status, _headers, body = session.request(
            "POST",
            "/accounts/login/",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.stats.timed("login", time.perf_counter() - start)
        # We do not follow the redirect: the page behind it would consume messages unseen.
        if status != 302 or "sessionid" not in session.cookies:
            raise RuntimeError(f"login of {username} answered {status}: {body[:200]!r}")
        return session

    def graphql(
        self, session: Session, operation: str, variables: dict[str, Any]
    ) -> dict[str, Any] | None:
        """POST one published operation; return its data, or None after recording an error."""
        body = json.dumps(
            {
                "query": self.operations[operation],
                "operationName": operation,
                "variables": variables,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "X-CSRFToken": session.csrf_token()}
        start = time.perf_counter()
        try:
            status, _headers, data = session.request("POST", "/graphql", body, headers)
        except (OSError, http.client.HTTPException) as error:
            self.stats.error(f"{operation}: {error!r}")
            return None
        self.stats.timed(operation, time.perf_counter() - start)
        if status != 200:
            self.stats.error(f"{operation}: HTTP {status}: {data[:300]!r}")
            return None
        result = json.loads(data)
        if result.get("errors"):
            self.stats.error(f"{operation}: {result['errors']}")
            return None
        return result["data"]

    def read_once(self, user_id: int, session: Session) -> None:
        """One myMessages read; acknowledge the sticky messages it showed."""
        data = self.graphql(session, "MyMessages", {})
        if data is None:
            return
        once, sticky = [], []
        for message in data["myMessages"]:
            if message["id"] is None:
                self.stats.error(f"user {user_id} was shown a session message: {message}")
            elif message["deliverOnce"]:
                once.append(int(message["id"]))
            else:
                sticky.append(message["id"])
        with self.seen_lock:
            self.seen[user_id].extend(once)
        if sticky:
            result = self.graphql(session, "AcknowledgeMessages", {"ids": sticky})
            if result is None:
                return
            payload = result["acknowledgeMessages"]
            # Acknowledging an own message twice (two tabs) succeeds, so nothing may be refused.
            if payload["errors"] or set(payload["acknowledgedIds"]) != set(sticky):
                self.stats.error(f"acknowledge {sticky} of user {user_id}: {payload}")
            else:
                with self.seen_lock:
                    self.sticky_acknowledged.update(int(pk) for pk in sticky)

    def reader(self, user_id: int, deadline: float) -> None:
        """One tab of one user: read as fast as the server answers until the deadline."""
        session = self.sessions[user_id]
        for _ in range(self.config["max_requests"]):
            if time.monotonic() >= deadline:
                return
            self.read_once(user_id, session)

    def sender(self, number: int, session: Session, deadline: float) -> None:
        """Send to a few random users through SendMessage until the deadline."""
        rng = random.Random(number)
        user_ids = [user["id"] for user in self.config["users"]]
        for sent in range(self.config["max_requests"]):
            if time.monotonic() >= deadline:
                return
            recipients = rng.sample(
                user_ids, min(self.config["recipients_per_send"], len(user_ids))
            )
            message_input = {
                "recipients": [str(pk) for pk in recipients],
                "level": "INFO",
                "message": f"GraphQL sender {number}, message {sent}",
                # Every fifth message is sticky, to exercise acknowledging under load.
                "deliverOnce": sent % 5 != 0,
            }
            data = self.graphql(session, "SendMessage", {"input": message_input})
            if data is not None:
                payload = data["sendMessage"]
                if payload["errors"] or payload["count"] != len(recipients):
                    self.stats.error(f"sendMessage {message_input}: {payload}")
                else:
                    with self.seen_lock:
                        self.sent_by_graphql += payload["count"]
            time.sleep(self.config["send_interval"])

    def run(self) -> dict[str, Any]:
        """The whole protocol; returns the final report."""
        config = self.config
        start = time.perf_counter()
        # Few threads: each login costs the server a deliberately slow password hash.
        with ThreadPoolExecutor(max_workers=4) as pool:
            logins = {
                user["id"]: pool.submit(self.log_in, user["username"], config["password"])
                for user in [*config["users"], config["sender"]]
            }
            self.sessions = {user_id: future.result() for user_id, future in logins.items()}
        login_seconds = time.perf_counter() - start
        emit({"event": "logged_in", "seconds": login_seconds})

        deadline = time.monotonic() + config["seconds"]
        threads = [
            threading.Thread(target=self.reader, args=(user["id"], deadline))
            for user in config["users"]
            for _tab in range(config["tabs"])
        ]
        sender_session = self.sessions[config["sender"]["id"]]
        threads += [
            threading.Thread(target=self.sender, args=(number, sender_session, deadline))
            for number in range(config["senders"])
        ]
        timed_start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        timed_seconds = time.perf_counter() - timed_start
        timed_requests = sum(
            len(values) for name, values in self.stats.latencies.items() if name != "login"
        )

        # Wait until the parent's own sender has stopped too, then read each user once more.
        if sys.stdin.readline().strip() != "drain":
            raise RuntimeError("expected 'drain' on stdin")
        for user in config["users"]:
            self.read_once(user["id"], self.sessions[user["id"]])

        return {
            "event": "done",
            "login_seconds": login_seconds,
            "timed_seconds": timed_seconds,
            "timed_requests": timed_requests,
            "operations": self.stats.summary(),
            "error_count": self.stats.error_count,
            "errors": self.stats.errors,
            "seen": self.seen,
            "sticky_acknowledged": sorted(self.sticky_acknowledged),
            "sent_by_graphql": self.sent_by_graphql,
        }


def emit(event: dict[str, Any]) -> None:
    """Write one protocol line to the parent."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Run the driver with the configuration in argv[1]."""
    emit(Driver(json.loads(sys.argv[1])).run())


if __name__ == "__main__":
    main()
