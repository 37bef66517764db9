"""Template context: Django's messages and the user's stored messages in one lazy list."""

from __future__ import annotations

from typing import Any

from django.contrib.messages.constants import DEFAULT_LEVELS
from django.http import HttpRequest

from user_messages.api import get_messages


def messages(request: HttpRequest) -> dict[str, Any]:
    """Replace django.contrib.messages' context processor: same variables, more messages."""
    return {
        "messages": get_messages(request=request),
        "DEFAULT_MESSAGE_LEVELS": DEFAULT_LEVELS,
    }
