"""The rules every input passes, shared by the Python API and the GraphQL API.

A rule returns the clean value or raises ``InvalidInput`` (a ``ValueError``; ``WrongType`` is also
a ``TypeError``) that names the input at fault, says why with an ``ErrorCode`` and says what to
pass instead. The Python API lets these propagate; the GraphQL API turns them into errors as data
on the field at fault. One set of rules, so the two APIs cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import enum
import json
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise

from user_messages import categories as declared_categories
from user_messages.conf import conf
from user_messages.links import safe_link

#: Every backend stores ids in at most a signed 64-bit integer. Larger numbers crash some
#: drivers (SQLite's raises OverflowError) instead of matching nothing, so no query sees them.
MAX_ID = 2**63 - 1
#: MariaDB's JSON columns refuse documents nested deeper than this (its CHECK (JSON_VALID(...))
#: fails), so no backend is asked to store more.
MAX_META_DEPTH = 31


class ErrorCode(enum.Enum):
    """Why a mutation refused (part of) its input."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    UNAUTHENTICATED = "unauthenticated"


class InvalidInput(ValueError):
    """An input value that breaks a rule: ``field`` names it, ``code`` says which rule."""

    def __init__(self, message: str, *, field: str, code: ErrorCode = ErrorCode.INVALID) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


class WrongType(InvalidInput, TypeError):
    """An input of the wrong type: a programming error in Python, bad input over GraphQL."""


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, shortened: an error message must not echo megabytes back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def _unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as UTF-8 text by every backend, or None if it can."""
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text or JSON; refuse it on every backend alike.
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (say "\ud800" from a JSON body) is no character; no driver encodes it.
        return "must be valid Unicode (it contains a lone surrogate)"
    return None


def _strings_and_depth(value: object) -> tuple[list[str], int]:
    """Every key and string inside a JSON value, and its nesting depth (``{}`` is 1).

    Iterative, not recursive: the depth is the client's to choose.
    """
    strings: list[str] = []
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            strings.append(item)
        elif isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            strings.extend(item.keys())
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return strings, deepest


def level(value: object, *, field: str = "level") -> int:
    """A message level: an int such as ``constants.INFO``, within every backend's integer column."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise WrongType(
            f"{field} must be an int such as user_messages.api.constants.INFO, "
            f"got {_shown(value)}.",
            field=field,
        )
    if not -(2**31) <= value < 2**31:
        raise InvalidInput(f"{field} must fit in 32 bits, got {value}.", field=field)
    return value


def boolean(value: object, *, field: str) -> bool:
    """True or False, and nothing that merely looks like one."""
    if not isinstance(value, bool):
        raise WrongType(f"{field} must be True or False, got {_shown(value)}.", field=field)
    return value


def text(
    value: object, *, field: str, allow_empty: bool = False, max_length: int | None = None
) -> str:
    """A text every backend stores as given: no NUL, no lone surrogate; not blank unless allowed."""
    if isinstance(value, Promise):  # gettext_lazy: stored in the sender's active language
        value = str(value)
    if not isinstance(value, str):
        raise WrongType(f"{field} must be a str, got {_shown(value)}.", field=field)
    if not allow_empty and not value.strip():
        raise InvalidInput(
            f"{field} must not be empty, got {_shown(value)}.", field=field, code=ErrorCode.REQUIRED
        )
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(
            f"{field} must be at most {max_length} characters, got {len(value)}.",
            field=field,
            code=ErrorCode.TOO_LONG,
        )
    problem = _unicode_problem(value)
    if problem:
        raise InvalidInput(f"{field} {problem}.", field=field)
    return value


def meta(value: object, *, field: str = "meta", max_bytes: int | None = None) -> dict[str, Any]:
    """A JSON object every backend stores and reads back unchanged; ``{}`` for None."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WrongType(
            f"{field} must be a JSON object (a dict), got {_shown(value)}.", field=field
        )
    try:
        # Compact and unescaped: the size counted is the size stored.
        serialised = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except TypeError as error:
        raise InvalidInput(f"{field} must be serialisable as JSON: {error}", field=field) from None
    except ValueError:
        raise InvalidInput(
            f"{field} must be serialisable as JSON: no NaN, no infinity, no circular references.",
            field=field,
        ) from None
    except RecursionError:
        raise InvalidInput(f"{field} is nested too deeply.", field=field) from None
    # What we store is what a reader gets back: tuples become lists, int keys strings.
    stored = cast("dict[str, Any]", json.loads(serialised))
    strings, depth = _strings_and_depth(stored)
    for string in strings:
        problem = _unicode_problem(string)
        if problem:
            raise InvalidInput(f"{field} {problem}.", field=field)
    if depth > MAX_META_DEPTH:
        raise InvalidInput(
            f"{field} must nest at most {MAX_META_DEPTH} levels deep, got {depth}.", field=field
        )
    if max_bytes is not None:
        size = len(serialised.encode())
        if size > max_bytes:
            raise InvalidInput(
                f"{field} must be at most {max_bytes} bytes as JSON, got {size}.",
                field=field,
                code=ErrorCode.TOO_LONG,
            )
    return stored


def expires_at(
    value: object, *, field: str = "expires_at", future: bool = False
) -> datetime.datetime | None:
    """An expiry every backend can store (aware when USE_TZ); in the future if asked."""
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise WrongType(f"{field} must be a datetime or None, got {_shown(value)}.", field=field)
    if settings.USE_TZ:
        if timezone.is_naive(value):
            raise InvalidInput(
                f"{field} must have a UTC offset (such as 2030-01-01T12:00:00+00:00) when "
                f"USE_TZ is True, got {value.isoformat()}.",
                field=field,
            )
        try:
            # Stored in UTC: 9999-12-31T23:59:59-14:00 is in the year 10000, beyond every backend.
            value.astimezone(datetime.timezone.utc)
        except OverflowError:
            raise InvalidInput(
                f"{field} must lie within the years 1 to 9999 in UTC, got {value.isoformat()}.",
                field=field,
            ) from None
    if future and value <= (timezone.now() if settings.USE_TZ else datetime.datetime.now()):
        raise InvalidInput(f"{field} must be in the future.", field=field)
    return value


def _category_choices(names: Any) -> str:
    return ", ".join(repr(name) for name in ("", *names))


def category(value: object, *, field: str = "category") -> str:
    """A category's name: ``""`` (none) or one declared in ``USER_MESSAGES["CATEGORIES"]``."""
    if value == "":
        return ""
    if not isinstance(value, str):
        raise WrongType(f"{field} must be a str, got {_shown(value)}.", field=field)
    names = declared_categories.declared()
    if value not in names:
        raise InvalidInput(
            f"Unknown category {_shown(value)}, must be one of: {_category_choices(names)}.",
            field=field,
        )
    return value


def categories(value: object, *, field: str = "categories") -> list[str] | None:
    """Category names to read (``""`` is none), without repeats; None means all of them."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise WrongType(
            f"{field} must be a list of category names or None, got {_shown(value)}.",
            field=field,
        )
    names = declared_categories.declared()
    chosen: dict[str, None] = {}
    for name in value:
        if name != "" and (not isinstance(name, str) or name not in names):
            raise InvalidInput(
                f"Unknown category {_shown(name)}, must be one of: {_category_choices(names)}.",
                field=field,
            )
        chosen[name] = None
    return list(chosen)


def preference_choices(value: object, *, field: str = "category") -> dict[str, bool]:
    """Choices of categories to turn on or off: declared names to bools, none critical-off."""
    if not isinstance(value, dict):
        raise WrongType(
            f"Preferences must be a dict of category names to True or False, got {_shown(value)}.",
            field=field,
        )
    names = declared_categories.declared()
    for name, enabled in value.items():
        if not isinstance(name, str) or name not in names:
            raise InvalidInput(
                f"Unknown category {_shown(name)}, must be one of: "
                f"{', '.join(repr(n) for n in names)}.",
                field=field,
            )
        if not isinstance(enabled, bool):
            raise WrongType(
                f"The preference for {name!r} must be True or False, got {_shown(enabled)}.",
                field="enabled",
            )
        if names[name].critical and not enabled:
            raise InvalidInput(
                f"The category {name!r} is critical: it cannot be turned off.",
                field=field,
                code=ErrorCode.PERMISSION_DENIED,
            )
    return dict(value)


#: Characters of an action's label: a button's text, not a paragraph.
MAX_ACTION_LABEL_LENGTH = 40
#: Characters of an action's URL: more than any browser or proxy reliably passes on.
MAX_ACTION_URL_LENGTH = 2048

_ACTION_EXAMPLE = "{'label': 'Pay now', 'url': '/billing/pay/'}"


def actions(value: object, *, field: str = "actions") -> list[dict[str, str]]:
    """A message's action buttons: at most ``MAX_ACTIONS`` dicts of a label and a safe URL.

    ``[]`` for None. Each dict has exactly the keys ``label`` (1 to 40 characters) and ``url``
    (a path on this site or an http(s) URL with a host: ``links.safe_link``'s rule).
    """
    if value is None:
        return []
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
        raise WrongType(
            f"{field} must be a list of dicts such as {_ACTION_EXAMPLE}, got {_shown(value)}.",
            field=field,
        )
    maximum = conf.MAX_ACTIONS
    if len(value) > maximum:
        raise InvalidInput(
            f"A message may have at most {maximum} actions (USER_MESSAGES['MAX_ACTIONS']), "
            f"got {len(value)}.",
            field=field,
            code=ErrorCode.TOO_MANY,
        )
    clean = []
    for action in value:
        if not isinstance(action, dict):
            raise WrongType(
                f"An action must be a dict such as {_ACTION_EXAMPLE}, got {_shown(action)}.",
                field=field,
            )
        if set(action) != {"label", "url"}:
            raise InvalidInput(
                "An action must have the keys 'label' and 'url' and no others, got "
                f"{_shown(sorted(map(str, action)))}; for example {_ACTION_EXAMPLE}.",
                field=field,
            )
        label = action["label"]
        if isinstance(label, Promise):  # gettext_lazy: stored in the sender's active language
            label = str(label)
        if not isinstance(label, str) or not label.strip():
            raise InvalidInput(
                f"An action's label must be a text of 1 to {MAX_ACTION_LABEL_LENGTH} "
                f"characters, got {_shown(label)}.",
                field=field,
                code=ErrorCode.REQUIRED if isinstance(label, str) else ErrorCode.INVALID,
            )
        if len(label) > MAX_ACTION_LABEL_LENGTH:
            raise InvalidInput(
                f"An action's label must be at most {MAX_ACTION_LABEL_LENGTH} characters, got "
                f"{len(label)}: {_shown(label)}.",
                field=field,
                code=ErrorCode.TOO_LONG,
            )
        problem = _unicode_problem(label)
        if problem:
            raise InvalidInput(f"An action's label {problem}.", field=field)
        url = action["url"]
        if not isinstance(url, str) or len(url) > MAX_ACTION_URL_LENGTH or not safe_link(url):
            raise InvalidInput(
                f"An action's url must be a path on this site such as '/billing/pay/' or an "
                f"http(s) URL with a host (at most {MAX_ACTION_URL_LENGTH} characters, no "
                f"spaces or backslashes), got {_shown(url)}.",
                field=field,
            )
        clean.append({"label": label, "url": url})
    return clean


def archived(value: object, *, field: str = "archived") -> bool | None:
    """Which messages a history read lists: False not archived, True archived, None both."""
    if value is not None and not isinstance(value, bool):
        raise WrongType(f"{field} must be True, False or None, got {_shown(value)}.", field=field)
    return value


def storable(value: int) -> bool:
    """Whether an integer fits the widest integer column of every backend (64 bits, signed)."""
    return -MAX_ID - 1 <= value <= MAX_ID


def message_id(value: object, *, field: str = "ids") -> int:
    """A stored message's id, from an int or its decimal text (as GraphQL IDs arrive)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise WrongType(f"A message id must be an int, got {_shown(value)}.", field=field)
    invalid = InvalidInput(f"{_shown(value)} is not a valid message id.", field=field)
    if isinstance(value, str):
        # int() would also take " 1", "+1", "1_000" and non-ASCII digits: no id is written so.
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            raise invalid
        pk = int(value)
    else:
        pk = value
    if not 0 < pk <= MAX_ID:
        raise invalid
    return pk


def user_id(value: object, *, field: str = "recipients") -> Any:
    """A user's primary key as the user model's pk field reads it (not checked to exist)."""
    try:
        pk = get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        pk = None
    if pk is None or (isinstance(pk, int) and not storable(pk)):
        raise InvalidInput(f"{_shown(value)} is not a valid user id.", field=field)
    return pk


#: What a history cursor encodes before its id: a cursor of anything else never decodes.
_HISTORY_CURSOR_PREFIX = "history:"


def make_history_cursor(pk: int) -> str:
    """The opaque cursor of the history page boundary at the message ``pk``."""
    return base64.urlsafe_b64encode(f"{_HISTORY_CURSOR_PREFIX}{pk}".encode("ascii")).decode()


def history_cursor(value: object, *, field: str = "after") -> int:
    """The message id inside a cursor that ``make_history_cursor`` made."""
    invalid = InvalidInput(
        f"{_shown(value)} is not a history cursor; pass the cursor or endCursor of a history "
        "page, or nothing for the first page.",
        field=field,
    )
    if not isinstance(value, str) or len(value) > 64:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(value.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        raise invalid from None
    if not text.startswith(_HISTORY_CURSOR_PREFIX):
        raise invalid
    try:
        pk = message_id(text.removeprefix(_HISTORY_CURSOR_PREFIX), field=field)
    except InvalidInput:
        raise invalid from None
    # One spelling per cursor: base64 decoding forgives what encoding never writes.
    if make_history_cursor(pk) != value:
        raise invalid
    return pk


def page_size(value: object, *, maximum: int, field: str = "first") -> int:
    """How many items a page holds: from 1 to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongType(f"{field} must be an int, got {_shown(value)}.", field=field)
    if not 1 <= value <= maximum:
        raise InvalidInput(
            f"{field} must be from 1 to {maximum}, got {value}.",
            field=field,
            code=ErrorCode.INVALID,
        )
    return value
