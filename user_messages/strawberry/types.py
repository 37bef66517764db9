"""The contract's types for Strawberry: scalars, enums, objects, payloads and the input.

They print, field for field, as ``schema/schema.graphql``; the resolvers only translate, the
decisions are ``user_messages.graphql_rules``'.
"""


# Strawberry's field decorators called with arguments are untyped to mypy.
# mypy: disallow-untyped-decorators=False
# Roots are Any (a stored Message or a session one): their fields are Any too.
# mypy: warn-return-any=False

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any, NewType

import strawberry
from dateutil.parser import isoparse
from graphql import (
    BooleanValueNode,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    print_ast,
)
from graphql.type.scalars import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT
from strawberry_django import django_resolver

from user_messages import api, graphql_rules
from user_messages.graphql_rules import (
    ACTIONS_DESCRIPTION,
    ARCHIVE_MESSAGES_DESCRIPTION,
    ARCHIVED_AT_DESCRIPTION,
    ARCHIVED_IDS_DESCRIPTION,
    CATEGORY_COUNT_DESCRIPTIONS,
    CATEGORY_DESCRIPTION,
    EDGES_DESCRIPTION,
    ERROR_CODE_DESCRIPTIONS,
    EXTRA_TAGS_DESCRIPTION,
    INPUT_ACTIONS_DESCRIPTION,
    INPUT_EXTRA_TAGS_DESCRIPTION,
    INPUT_LEVEL_DESCRIPTION,
    LEVEL_DESCRIPTIONS,
    MESSAGE_ACTION_DESCRIPTIONS,
    MESSAGE_DESCRIPTION,
    NODE_DESCRIPTION,
    PREFERENCE_DESCRIPTIONS,
    SEND_CATEGORY_DESCRIPTION,
    SET_MESSAGE_PREFERENCES_DESCRIPTION,
    STATE_DESCRIPTION,
    STATE_DESCRIPTIONS,
    UNARCHIVE_MESSAGES_DESCRIPTION,
    UNARCHIVED_IDS_DESCRIPTION,
    FieldError,
)
from user_messages.models import MessageState
from user_messages.validation import ErrorCode

__all__ = [
    "AcknowledgeAllMessagesPayload",
    "AcknowledgeMessagesPayload",
    "ArchiveMessagesPayload",
    "DateTime",
    "JSONObject",
    "MessageAction",
    "MessageActionInput",
    "MessageCategoryCount",
    "MessageLevel",
    "MessagePreference",
    "MessagePreferenceInput",
    "MessageStateEnum",
    "PageInfo",
    "SendMessageInput",
    "SendMessagePayload",
    "SetMessagePreferencesPayload",
    "UnarchiveMessagesPayload",
    "UserMessage",
    "UserMessageConnection",
    "UserMessageEdge",
    "UserMessagesError",
    "UserMessagesErrorCode",
]


#: For the resolvers that use the database: as they are in a sync view; in an async view or a
#: Channels consumer, each runs whole in one thread-sensitive ``sync_to_async`` call: one hop
#: per resolver, never one per query, and a consuming read's claim keeps one connection.
in_django = django_resolver(qs_hook=None)


def _serialize_datetime(value: Any) -> str:
    if not isinstance(value, datetime.datetime | datetime.date):
        raise GraphQLError(f"DateTime cannot represent value: {value!r}")
    return value.isoformat()


def _parse_datetime(value: Any) -> datetime.datetime:
    # The messages graphene's DateTime gives, so clients see one error whichever stack answers.
    if isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str):
        raise GraphQLError(f"DateTime cannot represent non-string value: {value!r}")
    try:
        return isoparse(value)
    except ValueError:
        raise GraphQLError(f"DateTime cannot represent value: {value!r}") from None


def _parse_datetime_literal(
    node: ValueNode, variables: dict[str, Any] | None = None
) -> datetime.datetime:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(f"DateTime cannot represent non-string value: {print_ast(node)}")
    return _parse_datetime(node.value)


DateTime = strawberry.scalar(
    NewType("DateTime", datetime.datetime),
    name="DateTime",
    description=(
        "The `DateTime` scalar type represents a DateTime\nvalue as specified by\n"
        "[iso8601](https://en.wikipedia.org/wiki/ISO_8601)."
    ),
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
    parse_literal=_parse_datetime_literal,
)


def _json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    """Any literal as plain Python, as graphene's GenericScalar reads it; validation decides.

    Iterative: a literal's nesting is bounded by the document limits, not by the stack.
    """
    result: list[Any] = []
    stack: list[tuple[ValueNode, list[Any] | dict[str, Any], Any]] = [(node, result, 0)]
    while stack:
        value, into, key = stack.pop()
        parsed: Any = None
        if isinstance(value, StringValueNode | BooleanValueNode):
            parsed = value.value
        elif isinstance(value, IntValueNode):
            number = int(value.value)
            parsed = number if GRAPHQL_MIN_INT <= number <= GRAPHQL_MAX_INT else None
        elif isinstance(value, FloatValueNode):
            parsed = float(value.value)
        elif isinstance(value, ListValueNode):
            parsed = [None] * len(value.values)
            stack.extend((item, parsed, index) for index, item in enumerate(value.values))
        elif isinstance(value, ObjectValueNode):
            parsed = {}
            for field in value.fields:
                parsed[field.name.value] = None
            stack.extend((field.value, parsed, field.name.value) for field in value.fields)
        if isinstance(into, list) and into is result:
            result.append(parsed)
        else:
            into[key] = parsed
    return result[0]


JSONObject = strawberry.scalar(
    NewType("JSONObject", object),
    name="JSONObject",
    description="A JSON object, sent and received as an object (not as a string holding JSON).",
    serialize=lambda value: value,
    parse_value=lambda value: value,
    parse_literal=_json_literal,
)

MessageLevel = strawberry.enum(
    graphql_rules.MessageLevel,
    name="MessageLevel",
    description="The five levels of django.contrib.messages.",
)
# The enum stays graphql_rules.MessageLevel (resolvers return its members), so its values'
# descriptions are set on the definition Strawberry made of it.
_levels = MessageLevel.__strawberry_definition__  # type: ignore[attr-defined]
_levels.values = [
    dataclasses.replace(
        value, description=LEVEL_DESCRIPTIONS[graphql_rules.MessageLevel[value.name]]
    )
    for value in _levels.values
]

MessageStateEnum = strawberry.enum(  # type: ignore[call-overload]
    enum.Enum(
        "MessageState",
        {
            state.name: strawberry.enum_value(state.value, description=STATE_DESCRIPTIONS[state])
            for state in MessageState
        },
    ),
    name="MessageState",
    description=STATE_DESCRIPTION,
)

UserMessagesErrorCode = strawberry.enum(  # type: ignore[call-overload]
    enum.Enum(
        "UserMessagesErrorCode",
        {
            code.name: strawberry.enum_value(code.value, description=ERROR_CODE_DESCRIPTIONS[code])
            for code in ErrorCode
        },
    ),
    name="UserMessagesErrorCode",
    description="Why a mutation refused (part of) its input.",
)


def _field(root: Any, name: str) -> Any:
    return graphql_rules.message_field(root, name)


@strawberry.type(name="MessageAction", description=MESSAGE_ACTION_DESCRIPTIONS["type"])
class MessageAction:
    label: str = strawberry.field(description=MESSAGE_ACTION_DESCRIPTIONS["label"])
    url: str = strawberry.field(description=MESSAGE_ACTION_DESCRIPTIONS["url"])


@strawberry.type(
    name="UserMessage",
    description="A message for the current user: from the session (no id) or stored (has an id).",
)
class UserMessage:
    # The root is a stored Message or one of django.contrib.messages' own, never this class:
    # every field reads it through graphql_rules.message_field.

    @strawberry.field(description="Pass it to acknowledgeMessages; null for session messages.")
    def id(self, root: strawberry.Parent[Any]) -> strawberry.ID | None:
        pk = _field(root, "id")
        return None if pk is None else strawberry.ID(str(pk))

    @strawberry.field(description=MESSAGE_DESCRIPTION)
    def message(self, root: strawberry.Parent[Any]) -> str:
        # Session messages may hold lazy translations.
        return str(root.message)

    @strawberry.field(description="Django's message level (10 debug ... 40 error, or custom).")
    def level(self, root: strawberry.Parent[Any]) -> int:
        return root.level

    @strawberry.field(
        description=(
            "The level as an enum, for exhaustive switches; null for a custom level "
            "(then use level and levelTag)."
        )
    )
    def level_name(self, root: strawberry.Parent[Any]) -> MessageLevel | None:  # type: ignore[valid-type]
        return graphql_rules.level_name(root.level)

    @strawberry.field(description="The level's tag (info, error ...), honouring MESSAGE_TAGS.")
    def level_tag(self, root: strawberry.Parent[Any]) -> str:
        return root.level_tag

    @strawberry.field(description="Extra tags followed by the level tag.")
    def tags(self, root: strawberry.Parent[Any]) -> str:
        return root.tags

    @strawberry.field(description=EXTRA_TAGS_DESCRIPTION)
    def extra_tags(self, root: strawberry.Parent[Any]) -> str:
        return root.extra_tags

    @strawberry.field(description="Data the sender attached; {} if none.")
    def meta(self, root: strawberry.Parent[Any]) -> JSONObject:  # type: ignore[valid-type]
        return _field(root, "meta")

    @strawberry.field(description="Null for session messages.")
    def created_at(self, root: strawberry.Parent[Any]) -> DateTime | None:  # type: ignore[valid-type]
        return _field(root, "created_at")

    @strawberry.field(
        description="True: shown once. False: shown until acknowledged (session messages: true)."
    )
    def deliver_once(self, root: strawberry.Parent[Any]) -> bool:
        return _field(root, "deliver_once")

    @strawberry.field(description="Not shown after this time; null: never expires.")
    def expires_at(self, root: strawberry.Parent[Any]) -> DateTime | None:  # type: ignore[valid-type]
        return _field(root, "expires_at")

    @strawberry.field(description="Null for session messages.")
    def state(self, root: strawberry.Parent[Any]) -> MessageStateEnum | None:  # type: ignore[valid-type]
        state = _field(root, "state")
        return None if state is None else MessageStateEnum[state.name]

    @strawberry.field(
        description=(
            "When a consuming read (not a peek) first showed it; null: never shown, or shown "
            "before the package recorded it, and for session messages."
        )
    )
    def seen_at(self, root: strawberry.Parent[Any]) -> DateTime | None:  # type: ignore[valid-type]
        return _field(root, "seen_at")

    @strawberry.field(
        description="When it was acknowledged; null if it was not, and for session messages."
    )
    def acknowledged_at(self, root: strawberry.Parent[Any]) -> DateTime | None:  # type: ignore[valid-type]
        return _field(root, "acknowledged_at")

    @strawberry.field(description=CATEGORY_DESCRIPTION)
    def category(self, root: strawberry.Parent[Any]) -> str:
        return _field(root, "category")

    @strawberry.field(description=ARCHIVED_AT_DESCRIPTION)
    def archived_at(self, root: strawberry.Parent[Any]) -> DateTime | None:  # type: ignore[valid-type]
        return _field(root, "archived_at")

    @strawberry.field(description=ACTIONS_DESCRIPTION)
    def actions(self, root: strawberry.Parent[Any]) -> list[MessageAction]:
        return [MessageAction(**action) for action in _field(root, "actions")]


@strawberry.type(
    name="MessageCategoryCount",
    description="How many stored messages of one category the current user has pending.",
)
class MessageCategoryCount:
    category: str = strawberry.field(description=CATEGORY_COUNT_DESCRIPTIONS["category"])
    label: str = strawberry.field(description=CATEGORY_COUNT_DESCRIPTIONS["label"])
    pending_count: int = strawberry.field(description=CATEGORY_COUNT_DESCRIPTIONS["pending_count"])


@strawberry.type(name="MessagePreference", description=PREFERENCE_DESCRIPTIONS["type"])
class MessagePreference:
    category: str = strawberry.field(description=PREFERENCE_DESCRIPTIONS["category"])
    label: str = strawberry.field(description=PREFERENCE_DESCRIPTIONS["label"])
    description: str = strawberry.field(description=PREFERENCE_DESCRIPTIONS["description"])
    critical: bool = strawberry.field(description=PREFERENCE_DESCRIPTIONS["critical"])
    enabled: bool = strawberry.field(description=PREFERENCE_DESCRIPTIONS["enabled"])

    @classmethod
    def from_preferences(cls, preferences: list[api.Preference]) -> list[MessagePreference]:
        """The GraphQL objects of ``api.preferences``' answer."""
        return [cls(**preference._asdict()) for preference in preferences]


@strawberry.type(
    name="UserMessageEdge",
    description="A message of the history, with the cursor of the messages older than it.",
)
class UserMessageEdge:
    cursor: str = strawberry.field(
        description="Opaque: pass it as after for the messages older than node."
    )
    node: UserMessage = strawberry.field(description=NODE_DESCRIPTION)


@strawberry.type(
    name="PageInfo",
    description=(
        "The Relay compliant `PageInfo` type, containing data necessary to paginate this "
        "connection."
    ),
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="When paginating forwards, are there more items?"
    )
    has_previous_page: bool = strawberry.field(
        description="When paginating backwards, are there more items?"
    )
    start_cursor: str | None = strawberry.field(
        description="When paginating backwards, the cursor to continue."
    )
    end_cursor: str | None = strawberry.field(
        description="When paginating forwards, the cursor to continue."
    )


@strawberry.type(
    name="UserMessageConnection",
    description=(
        "A page of the current user's stored messages, newest first (a Relay connection)."
    ),
)
class UserMessageConnection:
    edges: list[UserMessageEdge] = strawberry.field(description=EDGES_DESCRIPTION)
    page_info: PageInfo = strawberry.field(
        description="hasNextPage and endCursor page on; hasPreviousPage is always false."
    )

    @strawberry.field(
        description="What myMessageCount says: how many stored messages are pending now."
    )
    @in_django
    def pending_count(self, info: strawberry.Info) -> int:
        return graphql_rules.pending_count(request_of(info))

    @classmethod
    def from_page(cls, page: api.HistoryPage) -> UserMessageConnection:
        """The connection for one page of ``api.history_page``."""
        edges = [
            UserMessageEdge(cursor=page.cursor(m), node=m)  # type: ignore[arg-type]
            for m in page.messages
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type(
    name="UserMessagesError", description="Something a client got wrong, returned as data."
)
class UserMessagesError:
    field: str | None = strawberry.field(
        description="The input field (camelCase) at fault; null: the request."
    )
    message: str = strawberry.field(description="What went wrong, for humans.")
    code: UserMessagesErrorCode = strawberry.field(  # type: ignore[valid-type]
        description="What went wrong, for programs."
    )

    @classmethod
    def from_field_errors(cls, errors: list[FieldError]) -> list[UserMessagesError]:
        """The payload's ``errors`` from ``graphql_rules``' errors as data."""
        return [
            cls(field=e.field, message=e.message, code=UserMessagesErrorCode[e.code.name])
            for e in errors
        ]


_ERRORS_DESCRIPTION = "What was refused and why; empty when everything succeeded."
_PENDING_NOW = "How many stored messages the caller has pending now; 0 when signed out."
ACKNOWLEDGE_MESSAGES_DESCRIPTION = (
    "Mark the caller's stored messages done, so that sticky ones stop showing. Acknowledging "
    "an own message again succeeds again; ids of other users' messages get the same NOT_FOUND "
    "as ids that never existed. Requires login."
)
ACKNOWLEDGE_ALL_MESSAGES_DESCRIPTION = (
    'Mark every pending stored message of the caller acknowledged ("mark all as read"). '
    "Requires login."
)
SEND_MESSAGE_DESCRIPTION = (
    "Store a message for each recipient; on any error nothing is stored. Requires the "
    "permission USER_MESSAGES['SEND_PERMISSION'] (default: user_messages.add_message)."
)


def _pending_now(info: strawberry.Info) -> int:
    # Resolved after the mutation ran, and only when asked for: one COUNT query.
    user = graphql_rules.signed_in_user(request_of(info))
    return api.pending_count(user) if user is not None else 0


@strawberry.type(name="AcknowledgeMessagesPayload", description=ACKNOWLEDGE_MESSAGES_DESCRIPTION)
class AcknowledgeMessagesPayload:
    errors: list[UserMessagesError] = strawberry.field(description=_ERRORS_DESCRIPTION)
    acknowledged_ids: list[strawberry.ID] = strawberry.field(
        description=(
            "The caller's messages now acknowledged, including ones already done: the ids of "
            "UserMessage objects a client cache can evict."
        )
    )

    @strawberry.field(description=_PENDING_NOW)
    @in_django
    def pending_count(self, info: strawberry.Info) -> int:
        return _pending_now(info)


@strawberry.type(name="ArchiveMessagesPayload", description=ARCHIVE_MESSAGES_DESCRIPTION)
class ArchiveMessagesPayload:
    errors: list[UserMessagesError] = strawberry.field(description=_ERRORS_DESCRIPTION)
    archived_ids: list[strawberry.ID] = strawberry.field(description=ARCHIVED_IDS_DESCRIPTION)

    @strawberry.field(description=_PENDING_NOW)
    @in_django
    def pending_count(self, info: strawberry.Info) -> int:
        return _pending_now(info)


@strawberry.type(name="UnarchiveMessagesPayload", description=UNARCHIVE_MESSAGES_DESCRIPTION)
class UnarchiveMessagesPayload:
    errors: list[UserMessagesError] = strawberry.field(description=_ERRORS_DESCRIPTION)
    unarchived_ids: list[strawberry.ID] = strawberry.field(description=UNARCHIVED_IDS_DESCRIPTION)

    @strawberry.field(description=_PENDING_NOW)
    @in_django
    def pending_count(self, info: strawberry.Info) -> int:
        return _pending_now(info)


@strawberry.type(
    name="AcknowledgeAllMessagesPayload", description=ACKNOWLEDGE_ALL_MESSAGES_DESCRIPTION
)
class AcknowledgeAllMessagesPayload:
    errors: list[UserMessagesError] = strawberry.field(description=_ERRORS_DESCRIPTION)
    acknowledged_count: int = strawberry.field(
        description="How many messages this acknowledged: what pendingCount said just before."
    )

    @strawberry.field(description=_PENDING_NOW)
    @in_django
    def pending_count(self, info: strawberry.Info) -> int:
        return _pending_now(info)


@strawberry.type(name="SendMessagePayload", description=SEND_MESSAGE_DESCRIPTION)
class SendMessagePayload:
    errors: list[UserMessagesError] = strawberry.field(description=_ERRORS_DESCRIPTION)
    count: int = strawberry.field(
        description="How many messages were stored: one per distinct recipient."
    )


@strawberry.input(name="MessageActionInput", description=MESSAGE_ACTION_DESCRIPTIONS["input"])
class MessageActionInput:
    label: str = strawberry.field(description=MESSAGE_ACTION_DESCRIPTIONS["label"])
    url: str = strawberry.field(description=MESSAGE_ACTION_DESCRIPTIONS["url"])


@strawberry.input(name="SendMessageInput", description="A message to store for each recipient.")
class SendMessageInput:
    recipients: list[strawberry.ID] = strawberry.field(
        description=(
            "Ids of the users to send to: at most USER_MESSAGES['MAX_RECIPIENTS'] in all "
            "sendMessage fields of one request."
        )
    )
    level: MessageLevel = strawberry.field(  # type: ignore[valid-type]
        description=INPUT_LEVEL_DESCRIPTION
    )
    message: str = strawberry.field(
        description="At most USER_MESSAGES['MAX_MESSAGE_LENGTH'] characters."
    )
    extra_tags: str = strawberry.field(default="", description=INPUT_EXTRA_TAGS_DESCRIPTION)
    # UNSET, not None: a None default would print as "= null", which the contract has not.
    meta: JSONObject | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET,
        description=(
            "A JSON object; compact UTF-8 JSON of at most USER_MESSAGES['MAX_META_BYTES']."
        ),
    )
    deliver_once: bool = strawberry.field(
        default=True, description="False: show the message until the recipient acknowledges it."
    )
    expires_at: DateTime | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="A future time with a UTC offset; null: never."
    )
    category: str = strawberry.field(default="", description=SEND_CATEGORY_DESCRIPTION)
    actions: list[MessageActionInput] | None = strawberry.field(
        default=strawberry.UNSET, description=INPUT_ACTIONS_DESCRIPTION
    )


@strawberry.type(
    name="SetMessagePreferencesPayload", description=SET_MESSAGE_PREFERENCES_DESCRIPTION
)
class SetMessagePreferencesPayload:
    errors: list[UserMessagesError] = strawberry.field(description=_ERRORS_DESCRIPTION)
    preferences: list[MessagePreference] = strawberry.field(
        description=PREFERENCE_DESCRIPTIONS["preferences"]
    )


@strawberry.input(name="MessagePreferenceInput", description=PREFERENCE_DESCRIPTIONS["input"])
class MessagePreferenceInput:
    category: str = strawberry.field(description=PREFERENCE_DESCRIPTIONS["category"])
    enabled: bool = strawberry.field(description=PREFERENCE_DESCRIPTIONS["input_enabled"])


def request_of(info: strawberry.Info) -> Any:
    """The Django request of a Strawberry resolver's context (attribute or key ``request``)."""
    context = info.context
    request = getattr(context, "request", None)
    if request is None and isinstance(context, dict):
        request = context.get("request")
    return request
