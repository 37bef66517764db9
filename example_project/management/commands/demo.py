"""`manage.py demo`: migrate, create the demo users and messages, then start the server."""

from __future__ import annotations

import datetime
import ipaddress
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from user_messages import api

#: The documented logins: (username, password, is_superuser).
DEMO_USERS = [("demo", "demo", False), ("staff", "staff", True)]


class Command(BaseCommand):
    help = (
        "Set up the example project (migrate; users demo/demo and staff/staff; a few messages "
        "for demo) and start the development server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            default="127.0.0.1:8000",
            help=(
                "Passed on to runserver. An address other than loopback needs DEMO_PUBLIC=1: "
                f"the demo runs with {EXPOSES}."
            ),
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Only set up; do not start the server."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # runserver's autoreloader runs this command again in a child process (RUN_MAIN=true);
        # the parent has already set up.
        if os.environ.get("RUN_MAIN") != "true":
            if not options["no_serve"]:
                _refuse_a_public_address(options["addrport"])
            call_command("migrate", interactive=False, verbosity=0)
            for username, password, is_superuser in DEMO_USERS:
                self._create_user(username, password, is_superuser=is_superuser)
            if not options["no_serve"]:
                addrport = options["addrport"]
                # runserver reads a bare port as 127.0.0.1:PORT.
                address = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
                self.stdout.write(
                    f"Open http://{address}/ and log in as demo / demo (or staff / staff)."
                )
        if not options["no_serve"]:
            call_command("runserver", options["addrport"])

    def _create_user(self, username: str, password: str, *, is_superuser: bool) -> None:
        user_model = get_user_model()
        if user_model._default_manager.filter(username=username).exists():
            return
        if is_superuser:
            user = user_model._default_manager.create_superuser(username, "", password)
        else:
            user = user_model._default_manager.create_user(username, "", password)
            # Only on first creation: a restart keeps what the visitor did.
            _send_welcome_messages(user)
        self.stdout.write(f"Created user {username!r} with password {password!r}.")


#: What anyone who reaches the demo's server gets.
EXPOSES = (
    "DEBUG on (tracebacks with settings on any error), a public SECRET_KEY (sessions can be "
    "forged) and the superuser staff / staff"
)


def _is_loopback(addrport: str) -> bool:
    """Whether runserver's ``addrport`` (8000, 127.0.0.1:8000, [::1]:8000 ...) stays local."""
    if addrport.isdigit():
        return True  # runserver serves a bare port on 127.0.0.1
    host = addrport.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    if host == "0":
        return False  # runserver's shorthand for 0.0.0.0
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve to any interface


def _refuse_a_public_address(addrport: str) -> None:
    if _is_loopback(addrport) or os.environ.get("DEMO_PUBLIC") == "1":
        return
    raise CommandError(
        f"Refusing to serve the demo on {addrport!r}, where other machines can reach it: it "
        f"runs with {EXPOSES}. Use 127.0.0.1:PORT, or set DEMO_PUBLIC=1 if the demo is meant "
        "to be reachable (a throw-away container); then also set DJANGO_ALLOWED_HOSTS."
    )


def _send_welcome_messages(user: Any) -> None:
    """Messages waiting for the demo user's first login, one of each kind."""
    api.info(
        user,
        "Welcome! This message was stored before you logged in. It is delivered once: "
        "reload and it is gone.",
    )
    api.success(
        user,
        "This one is sticky: it stays on every page until you dismiss it.",
        deliver_once=False,
    )
    api.warning(
        user,
        "Messages can carry meta data, such as a link: open the single-page app.",
        deliver_once=False,
        meta={"url": "/spa/"},
    )
    api.error(
        user,
        "This sticky message expires a day after the demo was set up: it shows on every page "
        "until then (or until dismissed), and after that nobody sees it.",
        deliver_once=False,
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
