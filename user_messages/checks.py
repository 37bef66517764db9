"""System checks: the context processor's position and the USER_MESSAGES setting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.template import engines
from django.template.backends.django import DjangoTemplates

from user_messages.conf import DEFAULTS

DJANGO_PROCESSOR = "django.contrib.messages.context_processors.messages"
OUR_PROCESSOR = "user_messages.context_processors.messages"

# E001 is left unused: it may have been used by an earlier django-user-messages.


def check_context_processors(**kwargs: Any) -> list[checks.CheckMessage]:
    """Ours must come after Django's, or Django's would replace our combined list."""
    errors: list[checks.CheckMessage] = []
    for engine in engines.all():
        if not isinstance(engine, DjangoTemplates):
            continue
        processors = list(engine.engine.context_processors)
        if (
            DJANGO_PROCESSOR in processors
            and OUR_PROCESSOR in processors
            and processors.index(OUR_PROCESSOR) < processors.index(DJANGO_PROCESSOR)
        ):
            errors.append(
                checks.Error(
                    f"{OUR_PROCESSOR!r} is listed before {DJANGO_PROCESSOR!r} in the "
                    f"template engine {engine.name!r}, so 'messages' will not contain "
                    "stored messages.",
                    hint=f"Move {OUR_PROCESSOR!r} after {DJANGO_PROCESSOR!r}.",
                    id="user_messages.E002",
                )
            )
    return errors


def check_settings(**kwargs: Any) -> list[checks.CheckMessage]:
    """USER_MESSAGES must be a dict of known keys with values of the right kind."""
    value = getattr(settings, "USER_MESSAGES", {})
    if not isinstance(value, dict):
        return [
            checks.Error(
                f"USER_MESSAGES must be a dict, got {value!r}.",
                hint="Set USER_MESSAGES = {} or remove it to use the defaults.",
                id="user_messages.E003",
            )
        ]
    errors: list[checks.CheckMessage] = []
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        errors.append(
            checks.Error(
                f"USER_MESSAGES has unknown keys: {', '.join(unknown)}.",
                hint=f"Valid keys are: {', '.join(sorted(DEFAULTS))}.",
                id="user_messages.E004",
            )
        )
    permission = value.get("SEND_PERMISSION", DEFAULTS["SEND_PERMISSION"])
    if not isinstance(permission, str) or permission.count(".") != 1:
        errors.append(
            checks.Error(
                f"USER_MESSAGES['SEND_PERMISSION'] must be 'app_label.codename', got "
                f"{permission!r}.",
                hint="For example 'user_messages.add_message'.",
                id="user_messages.E005",
            )
        )
    for name in (
        "MAX_MESSAGE_LENGTH",
        "MAX_EXTRA_TAGS_LENGTH",
        "MAX_META_BYTES",
        "MAX_RECIPIENTS",
        "MAX_ACKNOWLEDGE_IDS",
        "MAX_MESSAGES_PER_READ",
        "MAX_QUERY_TOKENS",
        "MAX_QUERY_DEPTH",
        "MAX_QUERY_FIELDS",
        "WEBSOCKET_MAX_SUBSCRIPTIONS",
        "WEBSOCKET_INIT_TIMEOUT",
    ):
        limit = value.get(name, DEFAULTS[name])
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            errors.append(
                checks.Error(
                    f"USER_MESSAGES[{name!r}] must be a positive int, got {limit!r}.",
                    hint=f"Remove it to use the default, {DEFAULTS[name]}.",
                    id="user_messages.E006",
                )
            )
    recheck = value.get("WEBSOCKET_SESSION_RECHECK", DEFAULTS["WEBSOCKET_SESSION_RECHECK"])
    if recheck is not None and (
        not isinstance(recheck, (int, float))
        or isinstance(recheck, bool)
        or not 0 < recheck < float("inf")
    ):
        errors.append(
            checks.Error(
                "USER_MESSAGES['WEBSOCKET_SESSION_RECHECK'] must be a positive number of "
                f"seconds or None, got {recheck!r}.",
                hint="Remove it to use the default, "
                f"{DEFAULTS['WEBSOCKET_SESSION_RECHECK']}; None turns the periodic check off.",
                id="user_messages.E008",
            )
        )
    alias = value.get("CACHE")
    if alias is not None:
        try:
            caches[alias]
        except (ImproperlyConfigured, TypeError, KeyError):
            errors.append(
                checks.Error(
                    f"USER_MESSAGES['CACHE'] must name a cache in CACHES, got {alias!r}.",
                    hint=f"Use one of: {', '.join(sorted(settings.CACHES))}, or None.",
                    id="user_messages.E007",
                )
            )
    return errors
