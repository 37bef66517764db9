from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q
from django.utils import timezone

from user_messages.models import Message


class Command(BaseCommand):
    help = (
        "Delete stored messages that will never be shown again: delivered or acknowledged "
        "ones older than --days, and expired ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Keep delivered messages for this many days (default: 30).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be deleted without deleting anything.",
        )

    def handle(self, *args: Any, days: int, dry_run: bool, **options: Any) -> None:
        if days < 0:
            raise CommandError(f"--days must be 0 or more, got {days}.")
        now = timezone.now()
        cutoff = now - datetime.timedelta(days=days)
        purgeable = Message.objects.purgeable(cutoff, now)
        if dry_run:
            counts = purgeable.aggregate(
                total=Count("pk"), expired=Count("pk", filter=Q(expires_at__lte=now))
            )
            self.stdout.write(
                f"Would delete {counts['total']} message(s): delivered before "
                f"{cutoff.isoformat(timespec='minutes')} or expired ({counts['expired']} expired)."
            )
            return
        deleted, _ = purgeable.delete()
        self.stdout.write(f"Deleted {deleted} message(s).")
