"""System checks: the context processor's position, USER_MESSAGES and the channel layer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.utils.module_loading import import_string

from user_messages.categories import KEYS, NAME_PATTERN
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
        "MAX_QUERY_LENGTH",
        "MAX_HISTORY_PAGE",
        "MAX_QUERY_TOKENS",
        "MAX_QUERY_DEPTH",
        "MAX_QUERY_FIELDS",
        "MAX_QUERY_COMPARISONS",
        "MAX_LIST_LENGTH",
        "MAX_HISTORY_READS",
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
    errors.extend(_check_list_length(value))
    max_actions = value.get("MAX_ACTIONS", DEFAULTS["MAX_ACTIONS"])
    if not isinstance(max_actions, int) or isinstance(max_actions, bool) or max_actions < 0:
        errors.append(
            checks.Error(
                "USER_MESSAGES['MAX_ACTIONS'] must be an int of 0 or more (0: no action "
                f"buttons), got {max_actions!r}.",
                hint=f"Remove it to use the default, {DEFAULTS['MAX_ACTIONS']}.",
                id="user_messages.E017",
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
    for name in ("LIVE_SEND_TIMEOUT", "LIVE_SEND_PAUSE"):
        seconds = value.get(name, DEFAULTS[name])
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not 0 < seconds < float("inf")
        ):
            errors.append(
                checks.Error(
                    f"USER_MESSAGES[{name!r}] must be a positive number of seconds, got "
                    f"{seconds!r}.",
                    hint=f"Remove it to use the default, {DEFAULTS[name]}.",
                    id="user_messages.E010",
                )
            )
    errors.extend(_check_categories(value.get("CATEGORIES", DEFAULTS["CATEGORIES"])))
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


def _check_list_length(value: dict[str, Any]) -> list[checks.CheckMessage]:
    """MAX_LIST_LENGTH must let the per-request budgets of ids and recipients be reached."""
    settings_of = {name: value.get(name, DEFAULTS[name]) for name in _LISTS_WITHIN}
    if not all(_positive_int(v) for v in settings_of.values()):
        return []  # E006 reports it
    longest = max(("MAX_ACKNOWLEDGE_IDS", "MAX_RECIPIENTS"), key=lambda name: settings_of[name])
    if settings_of["MAX_LIST_LENGTH"] >= settings_of[longest]:
        return []
    return [
        checks.Error(
            f"USER_MESSAGES['MAX_LIST_LENGTH'] is {settings_of['MAX_LIST_LENGTH']}, less than "
            f"USER_MESSAGES[{longest!r}] ({settings_of[longest]}): a list that long would be "
            "refused before that limit could answer.",
            hint=f"Set MAX_LIST_LENGTH to at least {settings_of[longest]}.",
            id="user_messages.E009",
        )
    ]


_LISTS_WITHIN = ("MAX_LIST_LENGTH", "MAX_ACKNOWLEDGE_IDS", "MAX_RECIPIENTS")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_categories(value: Any) -> list[checks.CheckMessage]:
    """USER_MESSAGES["CATEGORIES"]: names that fit the column, each with a label and booleans."""
    setting = "USER_MESSAGES['CATEGORIES']"
    if not isinstance(value, dict):
        return [
            checks.Error(
                f"{setting} must be a dict of category names to declarations, got {value!r}.",
                hint='For example {"billing": {"label": _("Billing")}}; {} declares none.',
                id="user_messages.E011",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for name, declaration in value.items():
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            errors.append(
                checks.Error(
                    f"{setting} has the category name {name!r}, which is not 1 to 64 letters, "
                    "digits, '_', '-' or '.'.",
                    hint="Rename it, for example to 'billing' or 'team-invites'.",
                    id="user_messages.E012",
                )
            )
        if not isinstance(declaration, dict) or "label" not in declaration:
            errors.append(
                checks.Error(
                    f"{setting}[{name!r}] must be a dict with a 'label', got {declaration!r}.",
                    hint=f'For example {{"label": _({str(name).capitalize()!r})}}.',
                    id="user_messages.E013",
                )
            )
            continue
        unknown = sorted(set(declaration) - set(KEYS), key=str)
        if unknown:
            errors.append(
                checks.Error(
                    f"{setting}[{name!r}] has unknown keys: {', '.join(map(str, unknown))}.",
                    hint=f"Valid keys are: {', '.join(KEYS)}.",
                    id="user_messages.E014",
                )
            )
        for key in ("default", "critical"):
            if not isinstance(declaration.get(key, KEYS[key]), bool):
                errors.append(
                    checks.Error(
                        f"{setting}[{name!r}][{key!r}] must be True or False, got "
                        f"{declaration[key]!r}.",
                        hint=f"Remove it to use the default, {KEYS[key]}.",
                        id="user_messages.E015",
                    )
                )
        if declaration.get("critical") is True and declaration.get("default") is False:
            errors.append(
                checks.Error(
                    f"{setting}[{name!r}] is critical, so nobody can turn it off, but its "
                    "default is False.",
                    hint="Remove 'default' from a critical category, or make it not critical.",
                    id="user_messages.E016",
                )
            )
    return errors


def check_channel_layers(**kwargs: Any) -> list[checks.CheckMessage]:
    """A channels_redis connection must wait longer than the layer's own blocking reads."""
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if not isinstance(layers, dict):
        return []
    try:
        from channels_redis.core import RedisChannelLayer
        from channels_redis.utils import create_pool, decode_hosts
    except ImportError:
        return []
    warnings: list[checks.CheckMessage] = []
    for alias, layer in layers.items():
        try:
            backend = import_string(layer["BACKEND"])
            config = layer.get("CONFIG") or {}
            if not (isinstance(backend, type) and issubclass(backend, RedisChannelLayer)):
                continue
            # The connection redis-py would open, with its defaults for what is not set (no
            # socket is opened): redis-py 8 reads with a 5 s timeout unless told otherwise.
            hosts = [
                create_pool(host).make_connection() for host in decode_hosts(config.get("hosts"))
            ]
        except Exception:
            continue  # Channels reports a layer it cannot build; say nothing we cannot know.
        blocking: float = getattr(backend, "brpop_timeout", 5)  # seconds, a class attribute
        for number, connection in enumerate(hosts):
            timeout = connection.socket_timeout
            if timeout is not None and timeout <= blocking:
                warnings.append(
                    checks.Warning(
                        f"CHANNEL_LAYERS[{alias!r}] host {number}: redis-py gives up reading "
                        f"after {timeout} s (socket_timeout), but channels_redis waits up to "
                        f"{blocking} s for a socket's messages, so idle WebSockets close with "
                        "'Timeout reading'.",
                        hint='Set "socket_timeout": 10 in the host\'s dict, e.g. {"address": '
                        '"redis://127.0.0.1:6379/0", "socket_timeout": 10}.',
                        id="user_messages.W001",
                    )
                )
    return warnings
