"""The categories declared in ``USER_MESSAGES["CATEGORIES"]``, read as typed objects.

A declaration maps a short name to a dict::

    USER_MESSAGES = {
        "CATEGORIES": {
            "billing": {"label": _("Billing"), "description": _("Invoices and payments")},
            "security": {"label": _("Security"), "critical": True},
        }
    }

``label`` is required; ``description`` defaults to ``""``, ``default`` (whether a user who never
chose gets the category) to True and ``critical`` (whether a user may turn it off) to False.
The name ``""`` is no category: every message sent without one, and every message stored before
categories existed, has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from user_messages.conf import conf

__all__ = ["KEYS", "NAME_PATTERN", "Category", "declared"]

#: What a category's name may be: what fits the ``category`` column and reads well in a URL,
#: a CSS class or a GraphQL string.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: The keys of a category's declaration, and the defaults of the optional ones.
KEYS: dict[str, Any] = {"label": None, "description": "", "default": True, "critical": False}


@dataclass(frozen=True)
class Category:
    """One declared category: its name and what ``USER_MESSAGES["CATEGORIES"]`` says of it."""

    name: str
    label: Any  # a str or a lazy translation
    description: Any = ""
    default: bool = True
    critical: bool = False


def declared() -> dict[str, Category]:
    """The declared categories by name, in the order of the setting."""
    return {
        name: Category(
            name=name,
            label=declaration["label"],
            description=declaration.get("description", KEYS["description"]),
            default=declaration.get("default", KEYS["default"]),
            critical=declaration.get("critical", KEYS["critical"]),
        )
        for name, declaration in conf.CATEGORIES.items()
    }
