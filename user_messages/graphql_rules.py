"""What both GraphQL shells decide, written once: the graphene and the Strawberry shell only
translate arguments in and results out.

Per-request budgets and shared answers, the POST rule for consuming reads, the mutations'
permission checks and input validation, and errors as ``(field, message, code)``. Imports
neither graphene nor Strawberry; ``graphql`` here is graphql-core, which both stacks run on.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.contrib.messages import constants
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from graphql import GraphQLError

from user_messages import api, validation
from user_messages.categories import declared as declared_categories
from user_messages.conf import conf
from user_messages.links import safe_actions
from user_messages.models import Message, MessageState, distinct_states
from user_messages.validation import ErrorCode

__all__ = [
    "CONSUMING_NEEDS_POST",
    "SAFE_METHODS",
    "FieldError",
    "MessageLevel",
    "acknowledge",
    "acknowledge_all",
    "archive",
    "categories_argument",
    "check_permissions",
    "errors_as_data",
    "forget_results",
    "history_page",
    "my_message_preferences",
    "my_messages",
    "pending_count",
    "pending_counts",
    "refuse_over_safe_method",
    "send_message",
    "set_message_preferences",
    "signed_in_user",
    "unarchive",
]

#: Methods Django's CSRF middleware lets through unchecked: a same-site <img> or a cross-site
#: link can make a browser send them with the user's cookie, so they must never consume.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CONSUMING_NEEDS_POST = (
    "myMessages marks what it returns as read, so it needs a POST request (which Django "
    "checks for CSRF): send this query with POST, or pass peek: true to read without consuming."
)

#: The GraphQL descriptions of the MessageState values.
STATE_DESCRIPTIONS = {
    MessageState.PENDING: "The next consuming read shows it (a sticky one: until acknowledged).",
    MessageState.DELIVERED: "A deliver-once message that a consuming read showed.",
    MessageState.ACKNOWLEDGED: "Marked done by its user, or by staff in the admin.",
    MessageState.EXPIRED: "Its expiry passed before it was delivered or acknowledged.",
}
CATEGORY_DESCRIPTION = (
    "A name declared in USER_MESSAGES['CATEGORIES']; empty: none (and for session messages)."
)
SEND_CATEGORY_DESCRIPTION = (
    "A name declared in USER_MESSAGES['CATEGORIES']; empty (the default): none."
)
CATEGORIES_ARGUMENT_DESCRIPTION = (
    'Only messages of these categories ("": of none); null: all. Names must be declared.'
)
MY_MESSAGE_COUNTS_DESCRIPTION = (
    "The current user's pending count per category, in one query: each declared category in "
    "the order of USER_MESSAGES['CATEGORIES'], then \"\" (none). Counts are 0 when signed out."
)
#: The GraphQL descriptions of MessageCategoryCount's fields.
CATEGORY_COUNT_DESCRIPTIONS = {
    "category": "The category's name; empty: messages of no category.",
    "label": "The category's label, in the request's language; empty for no category.",
    "pending_count": "What myMessageCount(categories: [category]) says.",
}
MY_MESSAGE_PREFERENCES_DESCRIPTION = (
    "Every declared category and whether the current user gets its messages; empty when signed out."
)
SET_MESSAGE_PREFERENCES_DESCRIPTION = (
    "Turn categories on or off for the caller: all or nothing. An undeclared category is "
    "INVALID, turning a critical one off PERMISSION_DENIED. Requires login."
)
#: The GraphQL descriptions of MessagePreference's and MessagePreferenceInput's fields.
PREFERENCE_DESCRIPTIONS = {
    "type": "A declared category as the current user has it.",
    "input": "Turn one category on or off.",
    "category": "The category's name, as declared in USER_MESSAGES['CATEGORIES'].",
    "label": "The category's label, in the request's language.",
    "description": "The category's description; empty if it has none.",
    "critical": "A critical category cannot be turned off.",
    "enabled": "Whether the user gets messages of this category.",
    "input_enabled": "True: get messages of this category; false: get none.",
    "preferences": "The caller's preferences after the change; empty when refused.",
    "argument": "At most one entry per declared category.",
}
STATE_DESCRIPTION = (
    "Where a stored message is in its life: derived from when it was delivered, "
    "acknowledged and when it expires."
)


class MessageLevel(enum.IntEnum):
    """The five levels of django.contrib.messages."""

    DEBUG = constants.DEBUG
    INFO = constants.INFO
    SUCCESS = constants.SUCCESS
    WARNING = constants.WARNING
    ERROR = constants.ERROR


LEVEL_DESCRIPTIONS = {
    MessageLevel.DEBUG: "Development details (level 10).",
    MessageLevel.INFO: "Information (level 20).",
    MessageLevel.SUCCESS: "An action succeeded (level 25).",
    MessageLevel.WARNING: "Something needs the user's attention (level 30).",
    MessageLevel.ERROR: "Something failed (level 40).",
}
ERROR_CODE_DESCRIPTIONS = {
    ErrorCode.INVALID: "The value breaks a rule of its field (the error's message says which).",
    ErrorCode.NOT_FOUND: "No such message of the caller's: unknown, or another user's.",
    ErrorCode.PERMISSION_DENIED: "The caller lacks the permission the mutation requires.",
    ErrorCode.REQUIRED: "The field may not be empty.",
    ErrorCode.TOO_LONG: "The value is longer than the setting allows.",
    ErrorCode.TOO_MANY: "More items than the setting allows in one request.",
    ErrorCode.UNAUTHENTICATED: "The mutation needs a signed-in user.",
}
# The same field descriptions on both GraphQL stacks: the contract prints them.
MESSAGE_DESCRIPTION = "The text of the message."
EXTRA_TAGS_DESCRIPTION = "Tags the sender added, space-separated; tags puts them first."
EDGES_DESCRIPTION = "The messages of this page, newest first, each with its cursor."
NODE_DESCRIPTION = "The message."
INPUT_LEVEL_DESCRIPTION = "The message's level."
INPUT_EXTRA_TAGS_DESCRIPTION = "Tags to add, space-separated, before the level tag in tags."
SEND_INPUT_DESCRIPTION = "The message, its recipients and how it is delivered."
#: The descriptions of archive and action buttons, on both stacks.
ARCHIVED_AT_DESCRIPTION = (
    "When its user archived it (removed it from the inbox); null: in the inbox, and for "
    "session messages."
)
ACTIONS_DESCRIPTION = "Buttons to show with the message, in order; empty if none."
MESSAGE_ACTION_DESCRIPTIONS = {
    "type": "A button to show with a message: a label and the link it opens.",
    "input": "A button to show with the message.",
    "label": "The button's text: 1 to 40 characters.",
    "url": (
        "A path on this site (/billing/pay/) or an http(s) URL with a host; no //host, no "
        "javascript:, no spaces or backslashes."
    ),
}
INPUT_ACTIONS_DESCRIPTION = (
    "Buttons to show with the message: at most USER_MESSAGES['MAX_ACTIONS'] (default 3); "
    "null: none."
)
HISTORY_ARCHIVED_DESCRIPTION = (
    "false (the default): messages in the inbox; true: only archived ones; null: both."
)
MESSAGE_IDS_DESCRIPTION = (
    "At most USER_MESSAGES['MAX_ACKNOWLEDGE_IDS'] per request, counted together with the ids "
    "of acknowledgeMessages, archiveMessages and unarchiveMessages."
)
ARCHIVE_MESSAGES_DESCRIPTION = (
    "Remove the caller's stored messages from their inbox (myMessageHistory lists them with "
    "archived: true). A message still pending is acknowledged too. Archiving an own message "
    "again succeeds again; ids of other users' messages get the same NOT_FOUND as ids that "
    "never existed. Requires login."
)
UNARCHIVE_MESSAGES_DESCRIPTION = (
    "Put the caller's archived messages back in their inbox; they stay acknowledged. Ids of "
    "other users' messages get the same NOT_FOUND as ids that never existed. Requires login."
)
ARCHIVED_IDS_DESCRIPTION = (
    "The caller's messages now archived, including ones archived before: the ids of "
    "UserMessage objects a client cache can move out of the inbox."
)
UNARCHIVED_IDS_DESCRIPTION = (
    "The caller's messages now in the inbox, including ones that were never archived."
)


def level_name(level: int) -> MessageLevel | None:
    """The enum member of a standard level; None for a custom one."""
    try:
        return MessageLevel(level)
    except ValueError:
        return None


def signed_in_user(request: Any) -> Any:
    """The request's authenticated user, or None."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _request_state(request: Any) -> dict[str, Any]:
    """The package's per-request bookkeeping, kept on the request (one dict, made on first use)."""
    state: dict[str, Any] | None = getattr(request, "_user_messages", None)
    if state is None:
        state = {}
        # A context that takes no attributes (None, a dict) gets no reuse, but still works.
        with contextlib.suppress(AttributeError):
            request._user_messages = state
    return state


def _once_per_request(request: Any, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` at most once per request: aliases of one field share one answer and cost."""
    results: dict[str, Any] = _request_state(request).setdefault("results", {})
    if key not in results:
        results[key] = compute()
    return results[key]


def forget_results(request: Any) -> None:
    """Drop the answers shared in this request: a mutation made them stale."""
    _request_state(request).pop("results", None)


def _spend(request: Any, budget: str, amount: int, limit: int) -> int | None:
    """Count ``amount`` against a per-request ``limit``; None if it fits, else what was used."""
    spent: dict[str, int] = _request_state(request).setdefault("spent", {})
    used = spent.get(budget, 0)
    if used + amount > limit:
        return used
    spent[budget] = used + amount
    return None


def categories_argument(values: Iterable[str] | None) -> list[str] | None:
    """A ``categories`` argument, checked: None (all), or declared names (``""``: none).

    Its length is bounded by the number of names there are (the declared ones and ``""``),
    checked before anything else; an unknown name is a GraphQLError listing the declared ones.
    """
    if values is None:
        return None
    values = list(values)
    most = len(declared_categories()) + 1
    if len(values) > most:
        raise GraphQLError(
            f'categories may name at most {most} categories (the declared ones and ""), '
            f"got {len(values)}."
        )
    try:
        return validation.categories(values)
    except validation.InvalidInput as error:
        raise GraphQLError(str(error)) from None


def _categories_key(categories: list[str] | None) -> tuple[str, ...] | None:
    return None if categories is None else tuple(sorted(categories))


def my_messages(request: Any, *, peek: bool, categories: Iterable[str] | None = None) -> list[Any]:
    """myMessages' answer: consumed only over POST, shared by the aliases of one request."""
    chosen = categories_argument(categories)
    key = _categories_key(chosen)
    if peek:
        return _once_per_request(  # type: ignore[no-any-return]
            request,
            repr(("peek", key)),
            lambda: list(api.peek_messages(request=request, categories=chosen)),
        )
    # A context without a method (schema.execute() in a shell) is treated as a GET.
    if getattr(request, "method", "GET") in SAFE_METHODS:
        raise GraphQLError(CONSUMING_NEEDS_POST)
    return _once_per_request(  # type: ignore[no-any-return]
        request,
        repr(("read", key)),
        lambda: list(api.get_messages(request=request, categories=chosen)),
    )


def pending_count(request: Any, categories: Iterable[str] | None = None) -> int:
    """myMessageCount's answer, computed once per request whichever field asks."""
    chosen = categories_argument(categories)
    user = signed_in_user(request)
    if user is None:
        return 0
    return _once_per_request(  # type: ignore[no-any-return]
        request,
        repr(("count", _categories_key(chosen))),
        lambda: api.pending_count(user, categories=chosen),
    )


class CategoryCount(NamedTuple):
    """One entry of myMessageCounts: a category, its label and how many are pending in it."""

    category: str
    label: str
    pending_count: int


def pending_counts(request: Any) -> list[CategoryCount]:
    """myMessageCounts: each declared category, then ``""``, with its pending count."""
    user = signed_in_user(request)
    counts = (
        {}
        if user is None
        else _once_per_request(request, "counts", lambda: api.pending_counts(user))
    )
    labels = {name: str(category.label) for name, category in declared_categories().items()}
    labels[""] = ""
    return [CategoryCount(name, label, counts.get(name, 0)) for name, label in labels.items()]


def history_page(
    request: Any,
    first: int | None,
    after: str | None,
    states: list[MessageState] | None,
    categories: Iterable[str] | None = None,
    archived: bool | None = False,
) -> api.HistoryPage:
    """myMessageHistory's page, shared by aliases asking for the same page.

    The arguments are normalised first (``states`` as a set, ``categories`` checked and sorted),
    so ``[PENDING]`` and ``[PENDING, PENDING]`` share one answer. Each distinct page read counts
    against the request's ``MAX_HISTORY_READS``; over it, a GraphQLError and no query.
    """
    wanted = None if states is None else distinct_states(states)
    chosen = categories_argument(categories)
    key = repr(("history", first, after, wanted, _categories_key(chosen), archived))
    return _once_per_request(  # type: ignore[no-any-return]
        request, key, lambda: _history_page(request, first, after, wanted, chosen, archived)
    )


def _history_page(
    request: Any,
    first: int | None,
    after: str | None,
    states: tuple[MessageState, ...] | None,
    categories: list[str] | None,
    archived: bool | None,
) -> api.HistoryPage:
    user = signed_in_user(request)
    try:
        # The same errors for everyone, before anything is counted or read.
        validation.page_size(first, maximum=conf.MAX_HISTORY_PAGE)
        if after is not None:
            validation.history_cursor(after)
    except validation.InvalidInput as error:
        raise GraphQLError(str(error)) from None
    if user is None:
        return api.HistoryPage(messages=[], has_next_page=False)
    limit = conf.MAX_HISTORY_READS
    used = _spend(request, "history_reads", 1, limit)
    if used is not None:
        raise GraphQLError(
            f"At most {limit} different myMessageHistory pages per request; this request "
            "already read them. Aliases with the same arguments share one page."
        )
    return api.history_page(
        user,
        first=first,  # type: ignore[arg-type]
        after=after,
        states=states,
        categories=categories,
        archived=archived,
    )


def my_message_preferences(request: Any) -> list[api.Preference]:
    """myMessagePreferences: the signed-in user's preferences, shared by aliases."""
    user = signed_in_user(request)
    if user is None:
        return []
    return _once_per_request(  # type: ignore[no-any-return]
        request, "preferences", lambda: api.preferences(user)
    )


def set_message_preferences(request: Any, entries: list[Any]) -> list[api.Preference]:
    """setMessagePreferences: apply ``entries`` (``category`` and ``enabled`` attributes).

    Raises ValidationError, before anything changes, for an entry that breaks a rule.
    """
    most = len(declared_categories())
    if len(entries) > most:
        raise ValidationError(
            {
                "input": [
                    _error(
                        f"At most {most} preferences, one per declared category, got "
                        f"{len(entries)}.",
                        ErrorCode.TOO_MANY,
                    )
                ]
            }
        )
    choices = {entry.category: entry.enabled for entry in entries}
    try:
        return api.set_preferences(request.user, choices)
    except validation.InvalidInput as error:
        raise ValidationError(
            {_camel_case(error.field): [_error(str(error), error.code)]}
        ) from None


def refuse_over_safe_method(request: Any, field_name: str) -> None:
    """Raise a GraphQLError for a mutation field over GET, whatever view runs it."""
    if getattr(request, "method", None) in SAFE_METHODS:
        raise GraphQLError(f"{field_name} changes data, so it needs a POST request.")


def _error(message: str, code: ErrorCode) -> ValidationError:
    return ValidationError(message, code=code.value)


def check_permissions(
    request: Any, *, login_required: bool, permission: Callable[[], str] | None
) -> None:
    """Raise a ValidationError unless the request may run the mutation."""
    user = signed_in_user(request)
    if login_required and user is None:
        raise _error("You must be signed in.", ErrorCode.UNAUTHENTICATED)
    if permission is not None:
        name = permission()
        if user is None or not user.has_perm(name):
            raise _error(f"You need the permission {name!r}.", ErrorCode.PERMISSION_DENIED)


def send_permission() -> str:
    """The permission sendMessage needs, read per request so settings overrides apply."""
    return conf.SEND_PERMISSION


class FieldError(NamedTuple):
    """One error as data: the camelCase input field (None: the request), message and code."""

    field: str | None
    message: str
    code: ErrorCode


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() if part else "_" for part in rest)


def errors_as_data(error: ValidationError) -> list[FieldError]:
    """Turn a ValidationError (with or without fields) into a payload's ``errors`` list."""
    by_field = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: [error]}
    errors = []
    for name, field_errors in by_field.items():
        field = None if name == NON_FIELD_ERRORS else _camel_case(name)
        for field_error in field_errors:
            for single in field_error.error_list:
                # An unknown code is a programming error: let it reach the top-level errors.
                code = ErrorCode(single.code)
                message = single.message % single.params if single.params else single.message
                errors.append(FieldError(field=field, message=str(message), code=code))
    return errors


def _too_many(what: str, limit: int, got: int, used: int) -> ValidationError:
    if used:
        message = (
            f"At most {limit} {what} per request; other fields of this request used {used}, "
            f"this one has {got}."
        )
    else:
        message = f"At most {limit} {what} per request, got {got}."
    return _error(message, ErrorCode.TOO_MANY)


def acknowledge(request: Any, ids: list[str]) -> tuple[list[str], list[FieldError]]:
    """acknowledgeMessages: the acknowledged ids, and the errors for the others.

    Raises ValidationError when the request may not acknowledge at all (over the limit).
    """
    return _on_own_messages(request, ids, api.acknowledge_owned)


def archive(request: Any, ids: list[str]) -> tuple[list[str], list[FieldError]]:
    """archiveMessages: the archived ids, and the errors for the others (as ``acknowledge``)."""
    return _on_own_messages(request, ids, api.archive)


def unarchive(request: Any, ids: list[str]) -> tuple[list[str], list[FieldError]]:
    """unarchiveMessages: the ids back in the inbox, and the errors for the others."""
    return _on_own_messages(request, ids, api.unarchive)


def _on_own_messages(
    request: Any, ids: list[str], act: Callable[[Any, list[int]], list[int]]
) -> tuple[list[str], list[FieldError]]:
    """``act(user, ids)`` on the caller's messages; the ids it answered, errors for the rest.

    Every id asked about counts against one per-request budget (``MAX_ACKNOWLEDGE_IDS``)
    shared by the mutations that take message ids: aliases cannot multiply the work. A
    foreign id gets the same NOT_FOUND as an unknown one.
    """
    limit = conf.MAX_ACKNOWLEDGE_IDS
    used = _spend(request, "acknowledge_ids", len(ids), limit)
    if used is not None:
        raise ValidationError({"ids": [_too_many("ids", limit, len(ids), used)]})
    parsed: dict[str, int | validation.InvalidInput] = {}
    for value in dict.fromkeys(ids):
        try:
            parsed[value] = validation.message_id(value)
        except validation.InvalidInput as error:
            parsed[value] = error
    wanted = list(dict.fromkeys(pk for pk in parsed.values() if isinstance(pk, int)))
    own = set(act(request.user, wanted)) if wanted else set()
    # In the order the client sent the ids.
    errors = []
    for value, pk in parsed.items():
        if isinstance(pk, validation.InvalidInput):
            errors.append(_error(str(pk), pk.code))
        elif pk not in own:
            errors.append(_error(f"There is no message with id {value!r}.", ErrorCode.NOT_FOUND))
    return (
        [str(pk) for pk in wanted if pk in own],
        errors_as_data(ValidationError({"ids": errors})) if errors else [],
    )


def acknowledge_all(request: Any) -> int:
    """acknowledgeAllMessages: how many messages it acknowledged."""
    return api.acknowledge_all(request.user)


def _recipient_ids(request: Any, values: Iterable[str]) -> list[Any]:
    values = list(values)
    if not values:
        raise ValidationError(
            {"recipients": [_error("Name at least one recipient.", ErrorCode.REQUIRED)]}
        )
    # Every id asked about counts, found or not: the limit bounds the database work a request
    # can cause, across however many aliased sendMessage fields it holds.
    distinct = list(dict.fromkeys(values))
    limit = conf.MAX_RECIPIENTS
    used = _spend(request, "recipients", len(distinct), limit)
    if used is not None:
        raise ValidationError({"recipients": [_too_many("recipients", limit, len(distinct), used)]})
    user_ids: dict[Any, None] = {}
    errors = []
    for value in distinct:
        try:
            user_ids[validation.user_id(value)] = None
        except validation.InvalidInput as error:
            errors.append(_error(str(error), error.code))
    if errors:
        raise ValidationError({"recipients": errors})
    return list(user_ids)


def _validated_send_input(request: Any, data: Any) -> dict[str, Any]:
    """Check everything a client can get wrong; raise one ValidationError listing it all."""
    errors: dict[str, list[ValidationError]] = {}
    fields: dict[str, Any] = {"level": int(data.level), "deliver_once": data.deliver_once}
    rules: dict[str, Callable[[], Any]] = {
        "user": lambda: _recipient_ids(request, data.recipients),
        "message": lambda: validation.text(
            data.message, field="message", max_length=conf.MAX_MESSAGE_LENGTH
        ),
        "extra_tags": lambda: validation.text(
            data.extra_tags,
            field="extraTags",
            allow_empty=True,
            max_length=conf.MAX_EXTRA_TAGS_LENGTH,
        ),
        "meta": lambda: validation.meta(data.meta, max_bytes=conf.MAX_META_BYTES),
        "expires_at": lambda: validation.expires_at(
            data.expires_at, field="expiresAt", future=True
        ),
        "category": lambda: validation.category(data.category),
        "actions": lambda: validation.actions(_action_dicts(data.actions)),
    }
    for name, rule in rules.items():
        try:
            fields[name] = rule()
        except validation.InvalidInput as error:
            errors.setdefault(error.field, []).append(_error(str(error), error.code))
        except ValidationError as error:
            for field, field_errors in error.error_dict.items():
                errors.setdefault(field, []).extend(field_errors)
    if errors:
        raise ValidationError(errors)
    return fields


def send_message(request: Any, data: Any) -> int:
    """sendMessage: store ``data`` (recipients, level, message ... as attributes) for each.

    Raises ValidationError, before writing anything, for whatever is wrong with it.
    """
    fields = _validated_send_input(request, data)
    try:
        return api.add_message(  # type: ignore[no-any-return]
            fields["user"],
            fields["level"],
            fields["message"],
            fields["extra_tags"],
            deliver_once=fields["deliver_once"],
            meta=fields["meta"],
            expires_at=fields["expires_at"],
            category=fields["category"],
            actions=fields["actions"],
        )
    except ValueError as error:
        # Everything else was validated above; what remains is the API's check, made
        # before it writes anything, that every recipient exists.
        raise ValidationError({"recipients": _error(str(error), ErrorCode.NOT_FOUND)}) from None


def _action_dicts(values: Iterable[Any] | None) -> list[Any] | None:
    """MessageActionInput objects (``label`` and ``url`` attributes) as the dicts
    ``validation.actions`` checks; None stays None (no actions)."""
    if values is None:
        return None
    return [{"label": value.label, "url": value.url} for value in values]


def message_field(root: Any, name: str) -> Any:
    """A UserMessage field of a stored Message, or what a session message has for it."""
    if isinstance(root, Message):
        if name == "id":
            return root.pk
        if name == "actions":
            # Rows written around the API (the ORM, SQL) are not trusted to hold safe links.
            return safe_actions(root.actions)
        return getattr(root, name)
    return _SESSION_DEFAULTS[name]


# django.contrib.messages' own Message objects share message/level/level_tag/tags/extra_tags
# with stored ones, and have nothing of the rest.
_SESSION_DEFAULTS: dict[str, Any] = {
    "id": None,
    "meta": {},
    "created_at": None,
    "deliver_once": True,
    "expires_at": None,
    "state": None,
    "seen_at": None,
    "acknowledged_at": None,
    "category": "",
    "archived_at": None,
    "actions": [],
}
