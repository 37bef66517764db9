"""`manage.py demo`: migrate, create the demo users and messages, then start the server."""

from __future__ import annotations

import datetime
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
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
            "addrport", nargs="?", default="127.0.0.1:8000", help="Passed on to runserver."
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Only set up; do not start the server."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # runserver's autoreloader runs this command again in a child process (RUN_MAIN=true);
        # the parent has already set up.
        if os.environ.get("RUN_MAIN") != "true":
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
        "This message expires a day after the demo was set up; then nobody sees it.",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
