"""``Query``, ``Mutation`` and ``Subscription`` for a host project's own ``strawberry.Schema``.

A thin shell: arguments in, ``user_messages.graphql_rules`` (and through it ``api``) out.
"""


# Strawberry's field decorators called with arguments are untyped to mypy.
# mypy: disallow-untyped-decorators=False

from __future__ import annotations

from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Annotated, Any

import strawberry
from django.core.exceptions import ValidationError

from user_messages import graphql_rules
from user_messages.graphql_rules import (
    ARCHIVE_MESSAGES_DESCRIPTION,
    CATEGORIES_ARGUMENT_DESCRIPTION,
    HISTORY_ARCHIVED_DESCRIPTION,
    MESSAGE_IDS_DESCRIPTION,
    MY_MESSAGE_COUNTS_DESCRIPTION,
    MY_MESSAGE_PREFERENCES_DESCRIPTION,
    PREFERENCE_DESCRIPTIONS,
    SET_MESSAGE_PREFERENCES_DESCRIPTION,
    UNARCHIVE_MESSAGES_DESCRIPTION,
)
from user_messages.models import MessageState
from user_messages.realtime.streams import count_stream
from user_messages.strawberry.types import (
    ACKNOWLEDGE_ALL_MESSAGES_DESCRIPTION,
    ACKNOWLEDGE_MESSAGES_DESCRIPTION,
    SEND_MESSAGE_DESCRIPTION,
    AcknowledgeAllMessagesPayload,
    AcknowledgeMessagesPayload,
    ArchiveMessagesPayload,
    MessageCategoryCount,
    MessagePreference,
    MessagePreferenceInput,
    MessageStateEnum,
    SendMessageInput,
    SendMessagePayload,
    SetMessagePreferencesPayload,
    UnarchiveMessagesPayload,
    UserMessage,
    UserMessageConnection,
    UserMessagesError,
    in_django,
    request_of,
)

__all__ = ["Mutation", "Query", "Subscription"]

#: The ``categories`` argument of myMessages, myMessageCount and myMessageHistory.
Categories = Annotated[
    list[str] | None, strawberry.argument(description=CATEGORIES_ARGUMENT_DESCRIPTION)
]


@strawberry.type
class Query:
    """Merge into your project's Query: ``merge_types("Query", (Query, user_messages...Query))``."""

    @strawberry.field(
        description=(
            "The current request's messages, exactly as the template context processor shows "
            "them: session messages first, then stored ones (at most "
            "USER_MESSAGES['MAX_MESSAGES_PER_READ'], oldest first). Consumes what it returns "
            "unless peek is true, and only in a POST request: over GET it is an error unless "
            "peek is true. Aliases in one request share one answer. Signed-out users get their "
            "session messages."
        )
    )
    @in_django
    def my_messages(
        self,
        info: strawberry.Info,
        peek: Annotated[
            bool | None,
            strawberry.argument(
                description="Read without consuming: nothing is marked used or delivered."
            ),
        ] = False,
        categories: Categories = strawberry.UNSET,
    ) -> list[UserMessage]:
        return graphql_rules.my_messages(
            request_of(info), peek=bool(peek), categories=_given(categories)
        )

    @strawberry.field(
        description="How many stored messages the current user has pending; 0 when signed out."
    )
    @in_django
    def my_message_count(
        self, info: strawberry.Info, categories: Categories = strawberry.UNSET
    ) -> int:
        return graphql_rules.pending_count(request_of(info), _given(categories))

    @strawberry.field(description=MY_MESSAGE_COUNTS_DESCRIPTION)
    @in_django
    def my_message_counts(self, info: strawberry.Info) -> list[MessageCategoryCount]:
        return [
            MessageCategoryCount(
                category=entry.category, label=entry.label, pending_count=entry.pending_count
            )
            for entry in graphql_rules.pending_counts(request_of(info))
        ]

    @strawberry.field(description=MY_MESSAGE_PREFERENCES_DESCRIPTION)
    @in_django
    def my_message_preferences(self, info: strawberry.Info) -> list[MessagePreference]:
        return MessagePreference.from_preferences(
            graphql_rules.my_message_preferences(request_of(info))
        )

    @strawberry.field(
        description=(
            "The current user's stored messages, newest first, whatever their state: a page of "
            "at most first, older than after. Never consumes, so GET may read it. Aliases with "
            "the same arguments share one answer. Empty when signed out."
        )
    )
    @in_django
    def my_message_history(
        self,
        info: strawberry.Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description="At most USER_MESSAGES['MAX_HISTORY_PAGE'] (default 100)."
            ),
        ] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="The endCursor of the page before; null: the newest."),
        ] = strawberry.UNSET,
        states: Annotated[
            list[MessageStateEnum] | None,
            strawberry.argument(description="Only these states; null: all."),
        ] = strawberry.UNSET,
        categories: Categories = strawberry.UNSET,
        archived: Annotated[
            bool | None, strawberry.argument(description=HISTORY_ARCHIVED_DESCRIPTION)
        ] = False,
    ) -> UserMessageConnection:
        wanted: list[Any] | None = _given(states)
        page = graphql_rules.history_page(
            request_of(info),
            first,
            _given(after),
            None if wanted is None else [MessageState[state.name] for state in wanted],
            _given(categories),
            archived,
        )
        return UserMessageConnection.from_page(page)


def _given(value: Any) -> Any:
    """None for an argument the client left out (Strawberry's UNSET)."""
    return None if value is strawberry.UNSET else value


def _refused(info: strawberry.Info, *, login_required: bool, permission: Any = None) -> Any:
    """The request, after the checks every mutation makes first (ValidationError if refused)."""
    request = request_of(info)
    graphql_rules.refuse_over_safe_method(request, info.field_name)
    graphql_rules.check_permissions(request, login_required=login_required, permission=permission)
    return request


@strawberry.type
class Mutation:
    """Merge into your project's Mutation, as ``Query``."""

    @strawberry.mutation(description=ACKNOWLEDGE_MESSAGES_DESCRIPTION)
    @in_django
    def acknowledge_messages(
        self,
        info: strawberry.Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description=MESSAGE_IDS_DESCRIPTION),
        ],
    ) -> AcknowledgeMessagesPayload:
        try:
            request = _refused(info, login_required=True)
            acknowledged, errors = graphql_rules.acknowledge(request, list(ids))
        except ValidationError as error:
            return AcknowledgeMessagesPayload(errors=_as_data(error), acknowledged_ids=[])
        graphql_rules.forget_results(request)
        return AcknowledgeMessagesPayload(
            errors=UserMessagesError.from_field_errors(errors),
            acknowledged_ids=[strawberry.ID(pk) for pk in acknowledged],
        )

    @strawberry.mutation(description=ACKNOWLEDGE_ALL_MESSAGES_DESCRIPTION)
    @in_django
    def acknowledge_all_messages(self, info: strawberry.Info) -> AcknowledgeAllMessagesPayload:
        try:
            request = _refused(info, login_required=True)
        except ValidationError as error:
            return AcknowledgeAllMessagesPayload(errors=_as_data(error), acknowledged_count=0)
        count = graphql_rules.acknowledge_all(request)
        graphql_rules.forget_results(request)
        return AcknowledgeAllMessagesPayload(errors=[], acknowledged_count=count)

    @strawberry.mutation(description=ARCHIVE_MESSAGES_DESCRIPTION)
    @in_django
    def archive_messages(
        self,
        info: strawberry.Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description=MESSAGE_IDS_DESCRIPTION)
        ],
    ) -> ArchiveMessagesPayload:
        try:
            request = _refused(info, login_required=True)
            archived, errors = graphql_rules.archive(request, list(ids))
        except ValidationError as error:
            return ArchiveMessagesPayload(errors=_as_data(error), archived_ids=[])
        graphql_rules.forget_results(request)
        return ArchiveMessagesPayload(
            errors=UserMessagesError.from_field_errors(errors),
            archived_ids=[strawberry.ID(pk) for pk in archived],
        )

    @strawberry.mutation(description=UNARCHIVE_MESSAGES_DESCRIPTION)
    @in_django
    def unarchive_messages(
        self,
        info: strawberry.Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description=MESSAGE_IDS_DESCRIPTION)
        ],
    ) -> UnarchiveMessagesPayload:
        try:
            request = _refused(info, login_required=True)
            unarchived, errors = graphql_rules.unarchive(request, list(ids))
        except ValidationError as error:
            return UnarchiveMessagesPayload(errors=_as_data(error), unarchived_ids=[])
        graphql_rules.forget_results(request)
        return UnarchiveMessagesPayload(
            errors=UserMessagesError.from_field_errors(errors),
            unarchived_ids=[strawberry.ID(pk) for pk in unarchived],
        )

    @strawberry.mutation(description=SEND_MESSAGE_DESCRIPTION)
    @in_django
    def send_message(
        self,
        info: strawberry.Info,
        input: Annotated[
            SendMessageInput, strawberry.argument(description=graphql_rules.SEND_INPUT_DESCRIPTION)
        ],
    ) -> SendMessagePayload:
        data = SimpleNamespace(
            recipients=input.recipients,
            level=input.level,
            message=input.message,
            extra_tags=input.extra_tags,
            meta=_given(input.meta),
            deliver_once=input.deliver_once,
            expires_at=_given(input.expires_at),
            category=input.category,
            actions=_given(input.actions),
        )
        try:
            request = _refused(info, login_required=True, permission=graphql_rules.send_permission)
            count = graphql_rules.send_message(request, data)
        except ValidationError as error:
            return SendMessagePayload(errors=_as_data(error), count=0)
        graphql_rules.forget_results(request)
        return SendMessagePayload(errors=[], count=count)

    @strawberry.mutation(description=SET_MESSAGE_PREFERENCES_DESCRIPTION)
    @in_django
    def set_message_preferences(
        self,
        info: strawberry.Info,
        input: Annotated[
            list[MessagePreferenceInput],
            strawberry.argument(description=PREFERENCE_DESCRIPTIONS["argument"]),
        ],
    ) -> SetMessagePreferencesPayload:
        try:
            request = _refused(info, login_required=True)
            preferences = graphql_rules.set_message_preferences(request, list(input))
        except ValidationError as error:
            return SetMessagePreferencesPayload(errors=_as_data(error), preferences=[])
        graphql_rules.forget_results(request)
        return SetMessagePreferencesPayload(
            errors=[], preferences=MessagePreference.from_preferences(preferences)
        )


def _as_data(error: ValidationError) -> list[UserMessagesError]:
    return UserMessagesError.from_field_errors(graphql_rules.errors_as_data(error))


@strawberry.type
class Subscription:
    """Merge into your project's Subscription; served over WebSocket by Strawberry on Channels."""

    @strawberry.subscription(
        description=(
            "The current user's pending count: at once, then each time it changes (a message "
            "stored, delivered or acknowledged anywhere). Consumes nothing: read the messages "
            "with myMessages when it goes up. Needs a signed-in user."
        )
    )
    async def my_message_count(
        self, info: strawberry.Info, categories: Categories = strawberry.UNSET
    ) -> AsyncGenerator[int, None]:
        # The consumer (user_messages.strawberry.channels) puts the socket's
        # user_messages.realtime.consumer.LiveContext on its context as ``live``.
        live = getattr(info.context, "live", None)
        async for count in count_stream(live, _given(categories)):
            yield count
