"""The GraphQL API (graphene-django): a thin shell over ``user_messages.api``.

Compose the mixins into your project's schema::

    class Query(user_messages.schema.Query, graphene.ObjectType):
        pass

    class Mutation(user_messages.schema.Mutation, graphene.ObjectType):
        pass

Only projects that install the ``graphql`` extra import this module.
"""

# graphene ships no type information, so every graphene base class is Any to mypy.
# mypy: disallow-subclassing-any=False

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import graphene
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from graphene.types.generic import GenericScalar
from graphene.types.mutation import MutationOptions
from graphene.utils.trim_docstring import trim_docstring

from user_messages import api, graphql_rules
from user_messages.graphql_rules import (
    ACTIONS_DESCRIPTION,
    ARCHIVE_MESSAGES_DESCRIPTION,
    ARCHIVED_AT_DESCRIPTION,
    ARCHIVED_IDS_DESCRIPTION,
    CATEGORIES_ARGUMENT_DESCRIPTION,
    CATEGORY_COUNT_DESCRIPTIONS,
    CATEGORY_DESCRIPTION,
    CONSUMING_NEEDS_POST,
    EDGES_DESCRIPTION,
    ERROR_CODE_DESCRIPTIONS,
    EXTRA_TAGS_DESCRIPTION,
    HISTORY_ARCHIVED_DESCRIPTION,
    INPUT_ACTIONS_DESCRIPTION,
    INPUT_EXTRA_TAGS_DESCRIPTION,
    INPUT_LEVEL_DESCRIPTION,
    LEVEL_DESCRIPTIONS,
    MESSAGE_ACTION_DESCRIPTIONS,
    MESSAGE_DESCRIPTION,
    MESSAGE_IDS_DESCRIPTION,
    MY_MESSAGE_COUNTS_DESCRIPTION,
    MY_MESSAGE_PREFERENCES_DESCRIPTION,
    NODE_DESCRIPTION,
    PREFERENCE_DESCRIPTIONS,
    SAFE_METHODS,
    SEND_CATEGORY_DESCRIPTION,
    SEND_INPUT_DESCRIPTION,
    SET_MESSAGE_PREFERENCES_DESCRIPTION,
    STATE_DESCRIPTION,
    STATE_DESCRIPTIONS,
    UNARCHIVE_MESSAGES_DESCRIPTION,
    UNARCHIVED_IDS_DESCRIPTION,
    MessageLevel,
)
from user_messages.models import MessageState
from user_messages.realtime.streams import count_stream
from user_messages.validation import ErrorCode as UserMessagesErrorCode

__all__ = [
    "CONSUMING_NEEDS_POST",
    "SAFE_METHODS",
    "AcknowledgeAllMessages",
    "AcknowledgeMessages",
    "ArchiveMessages",
    "JSONObject",
    "MessageAction",
    "MessageActionInput",
    "MessageCategoryCount",
    "MessageLevel",
    "MessagePreference",
    "MessagePreferenceInput",
    "MessageStateEnum",
    "Mutation",
    "Query",
    "SendMessage",
    "SendMessageInput",
    "SetMessagePreferences",
    "Subscription",
    "UnarchiveMessages",
    "UserMessage",
    "UserMessageConnection",
    "UserMessageEdge",
    "UserMessagesError",
    "UserMessagesErrorCode",
    "UserMessagesMutation",
]


class JSONObject(GenericScalar):
    """A JSON object, sent and received as an object (not as a string holding JSON)."""


MessageStateEnum: Any = graphene.Enum.from_enum(
    MessageState,
    name="MessageState",
    description=lambda value: STATE_DESCRIPTIONS[value] if value is not None else STATE_DESCRIPTION,
)


class MessageAction(graphene.ObjectType):
    class Meta:
        description = MESSAGE_ACTION_DESCRIPTIONS["type"]

    # Roots are the dicts of links.safe_actions: graphene's default resolver reads keys.
    label = graphene.String(required=True, description=MESSAGE_ACTION_DESCRIPTIONS["label"])
    url = graphene.String(required=True, description=MESSAGE_ACTION_DESCRIPTIONS["url"])


class UserMessage(graphene.ObjectType):
    """A message for the current user: from the session (no id) or stored (has an id)."""

    id = graphene.ID(description="Pass it to acknowledgeMessages; null for session messages.")
    message = graphene.String(required=True, description=MESSAGE_DESCRIPTION)
    level = graphene.Int(
        required=True, description="Django's message level (10 debug ... 40 error, or custom)."
    )
    # A lambda: MessageLevel is defined further down, next to the input that also uses it.
    level_name = graphene.Field(
        lambda: MessageLevelEnum,
        description=(
            "The level as an enum, for exhaustive switches; null for a custom level "
            "(then use level and levelTag)."
        ),
    )
    level_tag = graphene.String(
        required=True, description="The level's tag (info, error ...), honouring MESSAGE_TAGS."
    )
    tags = graphene.String(required=True, description="Extra tags followed by the level tag.")
    extra_tags = graphene.String(required=True, description=EXTRA_TAGS_DESCRIPTION)
    meta = JSONObject(required=True, description="Data the sender attached; {} if none.")
    created_at = graphene.DateTime(description="Null for session messages.")
    deliver_once = graphene.Boolean(
        required=True,
        description="True: shown once. False: shown until acknowledged (session messages: true).",
    )
    expires_at = graphene.DateTime(description="Not shown after this time; null: never expires.")
    state = graphene.Field(MessageStateEnum, description="Null for session messages.")
    seen_at = graphene.DateTime(
        description=(
            "When a consuming read (not a peek) first showed it; null: never shown, or shown "
            "before the package recorded it, and for session messages."
        )
    )
    acknowledged_at = graphene.DateTime(
        description="When it was acknowledged; null if it was not, and for session messages."
    )
    category = graphene.String(
        required=True,
        description=CATEGORY_DESCRIPTION,
    )
    archived_at = graphene.DateTime(description=ARCHIVED_AT_DESCRIPTION)
    actions = graphene.List(
        graphene.NonNull(MessageAction), required=True, description=ACTIONS_DESCRIPTION
    )

    # Roots are either stored Messages or django.contrib.messages' own Message objects.
    @staticmethod
    def resolve_id(root: Any, info: graphene.ResolveInfo) -> int | None:
        return graphql_rules.message_field(root, "id")  # type: ignore[no-any-return]

    @staticmethod
    def resolve_level_name(root: Any, info: graphene.ResolveInfo) -> MessageLevel | None:
        return graphql_rules.level_name(root.level)

    @staticmethod
    def resolve_message(root: Any, info: graphene.ResolveInfo) -> str:
        # Session messages may hold lazy translations.
        return str(root.message)

    @staticmethod
    def resolve_meta(root: Any, info: graphene.ResolveInfo) -> dict[str, Any]:
        return graphql_rules.message_field(root, "meta")  # type: ignore[no-any-return]

    @staticmethod
    def resolve_created_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return graphql_rules.message_field(root, "created_at")

    @staticmethod
    def resolve_deliver_once(root: Any, info: graphene.ResolveInfo) -> bool:
        return graphql_rules.message_field(root, "deliver_once")  # type: ignore[no-any-return]

    @staticmethod
    def resolve_expires_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return graphql_rules.message_field(root, "expires_at")

    @staticmethod
    def resolve_state(root: Any, info: graphene.ResolveInfo) -> MessageState | None:
        return graphql_rules.message_field(root, "state")  # type: ignore[no-any-return]

    @staticmethod
    def resolve_seen_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return graphql_rules.message_field(root, "seen_at")

    @staticmethod
    def resolve_acknowledged_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return graphql_rules.message_field(root, "acknowledged_at")

    @staticmethod
    def resolve_category(root: Any, info: graphene.ResolveInfo) -> str:
        return graphql_rules.message_field(root, "category")  # type: ignore[no-any-return]

    @staticmethod
    def resolve_archived_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return graphql_rules.message_field(root, "archived_at")

    @staticmethod
    def resolve_actions(root: Any, info: graphene.ResolveInfo) -> list[dict[str, str]]:
        return graphql_rules.message_field(root, "actions")  # type: ignore[no-any-return]


class UserMessageEdge(graphene.ObjectType):
    """A message of the history, with the cursor of the messages older than it."""

    cursor = graphene.String(
        required=True, description="Opaque: pass it as after for the messages older than node."
    )
    node = graphene.Field(UserMessage, required=True, description=NODE_DESCRIPTION)


class UserMessageConnection(graphene.ObjectType):
    """A page of the current user's stored messages, newest first (a Relay connection)."""

    edges = graphene.List(
        graphene.NonNull(UserMessageEdge), required=True, description=EDGES_DESCRIPTION
    )
    page_info = graphene.Field(
        graphene.relay.PageInfo,
        required=True,
        description="hasNextPage and endCursor page on; hasPreviousPage is always false.",
    )
    pending_count = graphene.Int(
        required=True,
        description="What myMessageCount says: how many stored messages are pending now.",
    )

    @staticmethod
    def resolve_pending_count(root: Any, info: graphene.ResolveInfo) -> int:
        return graphql_rules.pending_count(info.context)


class MessageCategoryCount(graphene.ObjectType):
    """How many stored messages of one category the current user has pending."""

    category = graphene.String(required=True, description=CATEGORY_COUNT_DESCRIPTIONS["category"])
    label = graphene.String(required=True, description=CATEGORY_COUNT_DESCRIPTIONS["label"])
    pending_count = graphene.Int(
        required=True, description=CATEGORY_COUNT_DESCRIPTIONS["pending_count"]
    )


class MessagePreference(graphene.ObjectType):
    class Meta:
        description = PREFERENCE_DESCRIPTIONS["type"]

    category = graphene.String(required=True, description=PREFERENCE_DESCRIPTIONS["category"])
    label = graphene.String(required=True, description=PREFERENCE_DESCRIPTIONS["label"])
    description = graphene.String(required=True, description=PREFERENCE_DESCRIPTIONS["description"])
    critical = graphene.Boolean(required=True, description=PREFERENCE_DESCRIPTIONS["critical"])
    enabled = graphene.Boolean(required=True, description=PREFERENCE_DESCRIPTIONS["enabled"])


def _categories_argument() -> graphene.List:
    return graphene.List(
        graphene.NonNull(graphene.String), description=CATEGORIES_ARGUMENT_DESCRIPTION
    )


def _history_connection(page: api.HistoryPage) -> UserMessageConnection:
    edges = [UserMessageEdge(cursor=page.cursor(m), node=m) for m in page.messages]
    return UserMessageConnection(
        edges=edges,
        page_info=graphene.relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


class Query(graphene.ObjectType):
    """Mix into your project's Query: ``class Query(user_messages.schema.Query, ...)``."""

    my_messages = graphene.List(
        graphene.NonNull(UserMessage),
        required=True,
        peek=graphene.Boolean(
            default_value=False,
            description="Read without consuming: nothing is marked used or delivered.",
        ),
        categories=_categories_argument(),
        description=(
            "The current request's messages, exactly as the template context processor shows "
            "them: session messages first, then stored ones (at most "
            "USER_MESSAGES['MAX_MESSAGES_PER_READ'], oldest first). Consumes what it returns "
            "unless peek is true, and only in a POST request: over GET it is an error unless "
            "peek is true. Aliases in one request share one answer. Signed-out users get their "
            "session messages."
        ),
    )
    my_message_count = graphene.Int(
        required=True,
        categories=_categories_argument(),
        description="How many stored messages the current user has pending; 0 when signed out.",
    )
    my_message_counts = graphene.List(
        graphene.NonNull(MessageCategoryCount),
        required=True,
        description=MY_MESSAGE_COUNTS_DESCRIPTION,
    )
    my_message_preferences = graphene.List(
        graphene.NonNull(MessagePreference),
        required=True,
        description=MY_MESSAGE_PREFERENCES_DESCRIPTION,
    )
    my_message_history = graphene.Field(
        UserMessageConnection,
        required=True,
        first=graphene.Int(
            default_value=20,
            description="At most USER_MESSAGES['MAX_HISTORY_PAGE'] (default 100).",
        ),
        after=graphene.String(description="The endCursor of the page before; null: the newest."),
        states=graphene.List(
            graphene.NonNull(MessageStateEnum), description="Only these states; null: all."
        ),
        categories=_categories_argument(),
        archived=graphene.Boolean(default_value=False, description=HISTORY_ARCHIVED_DESCRIPTION),
        description=(
            "The current user's stored messages, newest first, whatever their state: a page of "
            "at most first, older than after. Never consumes, so GET may read it. Aliases with "
            "the same arguments share one answer. Empty when signed out."
        ),
    )

    @staticmethod
    def resolve_my_messages(
        root: Any,
        info: graphene.ResolveInfo,
        peek: bool = False,
        categories: list[str] | None = None,
    ) -> list[Any]:
        return graphql_rules.my_messages(info.context, peek=peek, categories=categories)

    @staticmethod
    def resolve_my_message_count(
        root: Any, info: graphene.ResolveInfo, categories: list[str] | None = None
    ) -> int:
        return graphql_rules.pending_count(info.context, categories)

    @staticmethod
    def resolve_my_message_counts(
        root: Any, info: graphene.ResolveInfo
    ) -> list[graphql_rules.CategoryCount]:
        return graphql_rules.pending_counts(info.context)

    @staticmethod
    def resolve_my_message_preferences(
        root: Any, info: graphene.ResolveInfo
    ) -> list[api.Preference]:
        return graphql_rules.my_message_preferences(info.context)

    @staticmethod
    def resolve_my_message_history(
        root: Any,
        info: graphene.ResolveInfo,
        first: int = 20,
        after: str | None = None,
        states: list[MessageState] | None = None,
        categories: list[str] | None = None,
        archived: bool | None = False,
    ) -> UserMessageConnection:
        page = graphql_rules.history_page(info.context, first, after, states, categories, archived)
        return _history_connection(page)


UserMessagesErrorCodeEnum = graphene.Enum.from_enum(
    UserMessagesErrorCode,
    name="UserMessagesErrorCode",
    description=lambda value: (
        ERROR_CODE_DESCRIPTIONS[value] if value is not None else UserMessagesErrorCode.__doc__
    ),
)


class UserMessagesError(graphene.ObjectType):
    """Something a client got wrong, returned as data."""

    field = graphene.String(description="The input field (camelCase) at fault; null: the request.")
    message = graphene.String(required=True, description="What went wrong, for humans.")
    code = UserMessagesErrorCodeEnum(required=True, description="What went wrong, for programs.")


def _errors_as_data(error: ValidationError) -> list[UserMessagesError]:
    """Turn a ValidationError (with or without fields) into the payload's ``errors`` list."""
    return [UserMessagesError(**e._asdict()) for e in graphql_rules.errors_as_data(error)]


class UserMessagesMutationOptions(MutationOptions):
    login_required: bool = True
    permission: Callable[[], str] | None = None


class UserMessagesMutation(graphene.Mutation):
    """Base mutation: checks its declared permission, returns ValidationErrors as data.

    Declare in ``Meta``: ``login_required`` (default True) and ``permission``, a callable
    returning the permission name, read on every request so settings overrides apply.
    """

    errors = graphene.List(
        graphene.NonNull(UserMessagesError),
        required=True,
        description="What was refused and why; empty when everything succeeded.",
    )

    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(
        cls,
        login_required: bool = True,
        permission: Callable[[], str] | None = None,
        permission_description: str = "",
        description: str | None = None,
        _meta: UserMessagesMutationOptions | None = None,
        **options: Any,
    ) -> None:
        _meta = _meta or UserMessagesMutationOptions(cls)
        _meta.login_required = login_required
        _meta.permission = permission
        requirement = permission_description or ("Requires login." if login_required else "")
        description = " ".join(
            part for part in (description or trim_docstring(cls.__doc__), requirement) if part
        )
        # SendMessage's result type is SendMessagePayload: the field keeps the short name.
        options.setdefault("name", f"{cls.__name__}Payload")
        super().__init_subclass_with_meta__(description=description, _meta=_meta, **options)

    @classmethod
    def check_permissions(cls, request: HttpRequest) -> None:
        """Raise a ValidationError unless the request may run this mutation."""
        graphql_rules.check_permissions(
            request, login_required=cls._meta.login_required, permission=cls._meta.permission
        )

    @classmethod
    def mutate(cls, root: Any, info: graphene.ResolveInfo, **data: Any) -> UserMessagesMutation:
        # graphene-django's view refuses mutations over GET already; this holds in any view.
        graphql_rules.refuse_over_safe_method(info.context, info.field_name)
        try:
            cls.check_permissions(info.context)
            payload: UserMessagesMutation = cls.perform_mutation(info, **data)
        except ValidationError as error:
            return cls(errors=_errors_as_data(error), **cls.nothing_done())
        # What myMessages or myMessageCount computed earlier in this request is stale now.
        graphql_rules.forget_results(info.context)
        return payload

    @classmethod
    def perform_mutation(cls, *args: Any, **kwargs: Any) -> Any:
        """Called as ``perform_mutation(info, **arguments)``; raise ValidationError to refuse.

        Refuse before writing anything: the error is returned, the request is not rolled back.
        """
        raise NotImplementedError

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        """The payload's result fields when the mutation refused everything."""
        return {}


class AcknowledgeMessages(UserMessagesMutation):
    """Mark the caller's stored messages done, so that sticky ones stop showing."""

    acknowledged_ids = graphene.List(
        graphene.NonNull(graphene.ID),
        required=True,
        description=(
            "The caller's messages now acknowledged, including ones already done: the ids of "
            "UserMessage objects a client cache can evict."
        ),
    )
    pending_count = graphene.Int(
        required=True,
        description="How many stored messages the caller has pending now; 0 when signed out.",
    )

    class Arguments:
        ids = graphene.List(
            graphene.NonNull(graphene.ID),
            required=True,
            description=MESSAGE_IDS_DESCRIPTION,
        )

    class Meta:
        # One paragraph: a blank line would print as trailing whitespace in schema.graphql.
        description = (
            "Mark the caller's stored messages done, so that sticky ones stop showing. "
            "Acknowledging an own message again succeeds again; ids of other users' messages "
            "get the same NOT_FOUND as ids that never existed."
        )
        login_required = True

    @staticmethod
    def resolve_pending_count(root: Any, info: graphene.ResolveInfo) -> int:
        # Resolved after the mutation ran, and only when asked for: one COUNT query.
        user = graphql_rules.signed_in_user(info.context)
        return api.pending_count(user) if user is not None else 0

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo, ids: list[str]) -> AcknowledgeMessages:
        acknowledged, errors = graphql_rules.acknowledge(info.context, ids)
        return cls(
            acknowledged_ids=acknowledged,
            errors=[UserMessagesError(**e._asdict()) for e in errors],
        )

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"acknowledged_ids": []}


def _pending_now(info: graphene.ResolveInfo) -> int:
    # Resolved after the mutation ran, and only when asked for: one COUNT query.
    user = graphql_rules.signed_in_user(info.context)
    return api.pending_count(user) if user is not None else 0


class ArchiveMessages(UserMessagesMutation):
    archived_ids = graphene.List(
        graphene.NonNull(graphene.ID), required=True, description=ARCHIVED_IDS_DESCRIPTION
    )
    pending_count = graphene.Int(
        required=True,
        description="How many stored messages the caller has pending now; 0 when signed out.",
    )

    class Arguments:
        ids = graphene.List(
            graphene.NonNull(graphene.ID), required=True, description=MESSAGE_IDS_DESCRIPTION
        )

    class Meta:
        # The shared text already says "Requires login."; graphene would add it again.
        description = ARCHIVE_MESSAGES_DESCRIPTION.removesuffix(" Requires login.")
        login_required = True

    @staticmethod
    def resolve_pending_count(root: Any, info: graphene.ResolveInfo) -> int:
        return _pending_now(info)

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo, ids: list[str]) -> ArchiveMessages:
        archived, errors = graphql_rules.archive(info.context, ids)
        return cls(archived_ids=archived, errors=[UserMessagesError(**e._asdict()) for e in errors])

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"archived_ids": []}


class UnarchiveMessages(UserMessagesMutation):
    unarchived_ids = graphene.List(
        graphene.NonNull(graphene.ID), required=True, description=UNARCHIVED_IDS_DESCRIPTION
    )
    pending_count = graphene.Int(
        required=True,
        description="How many stored messages the caller has pending now; 0 when signed out.",
    )

    class Arguments:
        ids = graphene.List(
            graphene.NonNull(graphene.ID), required=True, description=MESSAGE_IDS_DESCRIPTION
        )

    class Meta:
        description = UNARCHIVE_MESSAGES_DESCRIPTION.removesuffix(" Requires login.")
        login_required = True

    @staticmethod
    def resolve_pending_count(root: Any, info: graphene.ResolveInfo) -> int:
        return _pending_now(info)

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo, ids: list[str]) -> UnarchiveMessages:
        unarchived, errors = graphql_rules.unarchive(info.context, ids)
        return cls(
            unarchived_ids=unarchived, errors=[UserMessagesError(**e._asdict()) for e in errors]
        )

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"unarchived_ids": []}


class AcknowledgeAllMessages(UserMessagesMutation):
    """Mark every pending stored message of the caller acknowledged ("mark all as read")."""

    acknowledged_count = graphene.Int(
        required=True,
        description="How many messages this acknowledged: what pendingCount said just before.",
    )
    pending_count = graphene.Int(
        required=True,
        description="How many stored messages the caller has pending now; 0 when signed out.",
    )

    class Meta:
        login_required = True

    @staticmethod
    def resolve_pending_count(root: Any, info: graphene.ResolveInfo) -> int:
        user = graphql_rules.signed_in_user(info.context)
        return api.pending_count(user) if user is not None else 0

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo) -> AcknowledgeAllMessages:
        return cls(acknowledged_count=graphql_rules.acknowledge_all(info.context), errors=[])

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"acknowledged_count": 0}


MessageLevelEnum: Any = graphene.Enum.from_enum(
    MessageLevel,
    name="MessageLevel",
    description=lambda value: (
        LEVEL_DESCRIPTIONS[value] if value is not None else MessageLevel.__doc__
    ),
)


class SendMessageInput(graphene.InputObjectType):
    """A message to store for each recipient."""

    recipients = graphene.List(
        graphene.NonNull(graphene.ID),
        required=True,
        description=(
            "Ids of the users to send to: at most USER_MESSAGES['MAX_RECIPIENTS'] in all "
            "sendMessage fields of one request."
        ),
    )
    level = MessageLevelEnum(required=True, description=INPUT_LEVEL_DESCRIPTION)
    message = graphene.String(
        required=True, description="At most USER_MESSAGES['MAX_MESSAGE_LENGTH'] characters."
    )
    extra_tags = graphene.String(
        required=True, default_value="", description=INPUT_EXTRA_TAGS_DESCRIPTION
    )
    meta = JSONObject(
        description="A JSON object; compact UTF-8 JSON of at most USER_MESSAGES['MAX_META_BYTES']."
    )
    deliver_once = graphene.Boolean(
        required=True,
        default_value=True,
        description="False: show the message until the recipient acknowledges it.",
    )
    expires_at = graphene.DateTime(description="A future time with a UTC offset; null: never.")
    category = graphene.String(
        required=True, default_value="", description=SEND_CATEGORY_DESCRIPTION
    )
    actions = graphene.List(
        graphene.NonNull(lambda: MessageActionInput), description=INPUT_ACTIONS_DESCRIPTION
    )


class MessageActionInput(graphene.InputObjectType):
    class Meta:
        description = MESSAGE_ACTION_DESCRIPTIONS["input"]

    label = graphene.String(required=True, description=MESSAGE_ACTION_DESCRIPTIONS["label"])
    url = graphene.String(required=True, description=MESSAGE_ACTION_DESCRIPTIONS["url"])


class SendMessage(UserMessagesMutation):
    """Store a message for each recipient; on any error nothing is stored."""

    count = graphene.Int(
        required=True, description="How many messages were stored: one per distinct recipient."
    )

    class Arguments:
        input = SendMessageInput(required=True, description=SEND_INPUT_DESCRIPTION)

    class Meta:
        permission = graphql_rules.send_permission
        permission_description = (
            "Requires the permission USER_MESSAGES['SEND_PERMISSION'] "
            "(default: user_messages.add_message)."
        )

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo, input: SendMessageInput) -> SendMessage:
        return cls(count=graphql_rules.send_message(info.context, input), errors=[])

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"count": 0}


class MessagePreferenceInput(graphene.InputObjectType):
    class Meta:
        description = PREFERENCE_DESCRIPTIONS["input"]

    category = graphene.String(required=True, description=PREFERENCE_DESCRIPTIONS["category"])
    enabled = graphene.Boolean(required=True, description=PREFERENCE_DESCRIPTIONS["input_enabled"])


class SetMessagePreferences(UserMessagesMutation):
    preferences = graphene.List(
        graphene.NonNull(MessagePreference),
        required=True,
        description=PREFERENCE_DESCRIPTIONS["preferences"],
    )

    class Arguments:
        input = graphene.List(
            graphene.NonNull(MessagePreferenceInput),
            required=True,
            description=PREFERENCE_DESCRIPTIONS["argument"],
        )

    class Meta:
        # The shared text already says "Requires login."; graphene would add it again.
        description = SET_MESSAGE_PREFERENCES_DESCRIPTION.removesuffix(" Requires login.")
        login_required = True

    @classmethod
    def perform_mutation(
        cls, info: graphene.ResolveInfo, input: list[Any]
    ) -> SetMessagePreferences:
        preferences = graphql_rules.set_message_preferences(info.context, input)
        return cls(preferences=preferences, errors=[])

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"preferences": []}


class Mutation(graphene.ObjectType):
    """Mix into your project's Mutation: ``class Mutation(user_messages.schema.Mutation, ...)``."""

    acknowledge_messages = AcknowledgeMessages.Field(required=True)
    acknowledge_all_messages = AcknowledgeAllMessages.Field(required=True)
    archive_messages = ArchiveMessages.Field(required=True)
    unarchive_messages = UnarchiveMessages.Field(required=True)
    send_message = SendMessage.Field(required=True)
    set_message_preferences = SetMessagePreferences.Field(required=True)


class Subscription(graphene.ObjectType):
    """Mix into your project's Subscription; served over WebSocket by ``user_messages.realtime``."""

    my_message_count = graphene.Int(
        required=True,
        categories=_categories_argument(),
        description=(
            "The current user's pending count: at once, then each time it changes (a message "
            "stored, delivered or acknowledged anywhere). Consumes nothing: read the messages "
            "with myMessages when it goes up. Needs a signed-in user."
        ),
    )

    @staticmethod
    def subscribe_my_message_count(
        root: Any, info: graphene.ResolveInfo, categories: list[str] | None = None
    ) -> Any:
        # info.context is the socket's user_messages.realtime.consumer.LiveContext.
        return count_stream(info.context, categories)
