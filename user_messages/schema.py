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

import contextlib
import enum
from collections.abc import Callable
from typing import Any

import graphene
from django.contrib.messages import constants
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest
from graphene.types.generic import GenericScalar
from graphene.types.mutation import MutationOptions
from graphene.utils.str_converters import to_camel_case
from graphene.utils.trim_docstring import trim_docstring
from graphql import GraphQLError

from user_messages import api, validation
from user_messages.conf import conf
from user_messages.models import Message, MessageState
from user_messages.validation import ErrorCode as UserMessagesErrorCode

__all__ = [
    "AcknowledgeAllMessages",
    "AcknowledgeMessages",
    "JSONObject",
    "MessageLevel",
    "MessageStateEnum",
    "Mutation",
    "Query",
    "SendMessage",
    "SendMessageInput",
    "Subscription",
    "UserMessage",
    "UserMessageConnection",
    "UserMessageEdge",
    "UserMessagesError",
    "UserMessagesErrorCode",
    "UserMessagesMutation",
]


class JSONObject(GenericScalar):
    """A JSON object, sent and received as an object (not as a string holding JSON)."""


_STATE_DESCRIPTIONS = {
    MessageState.PENDING: "The next consuming read shows it (a sticky one: until acknowledged).",
    MessageState.DELIVERED: "A deliver-once message that a consuming read showed.",
    MessageState.ACKNOWLEDGED: "Marked done by its user, or by staff in the admin.",
    MessageState.EXPIRED: "Its expiry passed before it was delivered or acknowledged.",
}

MessageStateEnum: Any = graphene.Enum.from_enum(
    MessageState,
    name="MessageState",
    description=lambda value: (
        _STATE_DESCRIPTIONS[value]
        if value is not None
        else "Where a stored message is in its life: derived from when it was delivered, "
        "acknowledged and when it expires."
    ),
)


class UserMessage(graphene.ObjectType):
    """A message for the current user: from the session (no id) or stored (has an id)."""

    id = graphene.ID(description="Pass it to acknowledgeMessages; null for session messages.")
    message = graphene.String(required=True)
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
    extra_tags = graphene.String(required=True)
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

    # Roots are either stored Messages or django.contrib.messages' own Message objects, which
    # share message/level/level_tag/tags/extra_tags but have nothing of the rest.
    @staticmethod
    def resolve_id(root: Any, info: graphene.ResolveInfo) -> int | None:
        return root.pk if isinstance(root, Message) else None

    @staticmethod
    def resolve_level_name(root: Any, info: graphene.ResolveInfo) -> MessageLevel | None:
        try:
            return MessageLevel(root.level)
        except ValueError:
            return None

    @staticmethod
    def resolve_message(root: Any, info: graphene.ResolveInfo) -> str:
        # Session messages may hold lazy translations.
        return str(root.message)

    @staticmethod
    def resolve_meta(root: Any, info: graphene.ResolveInfo) -> dict[str, Any]:
        return root.meta if isinstance(root, Message) else {}

    @staticmethod
    def resolve_created_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return root.created_at if isinstance(root, Message) else None

    @staticmethod
    def resolve_deliver_once(root: Any, info: graphene.ResolveInfo) -> bool:
        return root.deliver_once if isinstance(root, Message) else True

    @staticmethod
    def resolve_expires_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return root.expires_at if isinstance(root, Message) else None

    @staticmethod
    def resolve_state(root: Any, info: graphene.ResolveInfo) -> MessageState | None:
        return root.state if isinstance(root, Message) else None

    @staticmethod
    def resolve_seen_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return root.seen_at if isinstance(root, Message) else None

    @staticmethod
    def resolve_acknowledged_at(root: Any, info: graphene.ResolveInfo) -> Any:
        return root.acknowledged_at if isinstance(root, Message) else None


class UserMessageEdge(graphene.ObjectType):
    """A message of the history, with the cursor of the messages older than it."""

    cursor = graphene.String(
        required=True, description="Opaque: pass it as after for the messages older than node."
    )
    node = graphene.Field(UserMessage, required=True)


class UserMessageConnection(graphene.ObjectType):
    """A page of the current user's stored messages, newest first (a Relay connection)."""

    edges = graphene.List(graphene.NonNull(UserMessageEdge), required=True)
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
        return _pending_count(info)


def _pending_count(info: graphene.ResolveInfo) -> int:
    """myMessageCount's answer, computed once per request whichever field asks."""
    user = _signed_in_user(info.context)
    if user is None:
        return 0
    return _once_per_request(  # type: ignore[no-any-return]
        info, "count", lambda: api.pending_count(user)
    )


def _history_connection(
    request: HttpRequest, first: int, after: str | None, states: list[MessageState] | None
) -> UserMessageConnection:
    user = _signed_in_user(request)
    try:
        if user is None:  # the same errors as for a signed-in user, then nothing to show
            validation.page_size(first, maximum=conf.MAX_HISTORY_PAGE)
            if after is not None:
                validation.history_cursor(after)
            page = api.HistoryPage(messages=[], has_next_page=False)
        else:
            page = api.history_page(user, first=first, after=after, states=states)
    except validation.InvalidInput as error:
        raise GraphQLError(str(error)) from None
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


def _signed_in_user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


#: Methods Django's CSRF middleware lets through unchecked: a same-site <img> or a cross-site
#: link can make a browser send them with the user's cookie, so they must never consume.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CONSUMING_NEEDS_POST = (
    "myMessages marks what it returns as read, so it needs a POST request (which Django "
    "checks for CSRF): send this query with POST, or pass peek: true to read without consuming."
)


def _request_state(info: graphene.ResolveInfo) -> dict[str, Any]:
    """The package's per-request bookkeeping, kept on the request (one dict, made on first use)."""
    context = info.context
    state: dict[str, Any] | None = getattr(context, "_user_messages", None)
    if state is None:
        state = {}
        # A context that takes no attributes (None, a dict) gets no reuse, but still works.
        with contextlib.suppress(AttributeError):
            context._user_messages = state
    return state


def _once_per_request(info: graphene.ResolveInfo, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` at most once per request: aliases of one field share one answer and cost."""
    results: dict[str, Any] = _request_state(info).setdefault("results", {})
    if key not in results:
        results[key] = compute()
    return results[key]


def _spend(info: graphene.ResolveInfo, budget: str, amount: int, limit: int) -> int | None:
    """Count ``amount`` against a per-request ``limit``; None if it fits, else what was used."""
    spent: dict[str, int] = _request_state(info).setdefault("spent", {})
    used = spent.get(budget, 0)
    if used + amount > limit:
        return used
    spent[budget] = used + amount
    return None


class Query(graphene.ObjectType):
    """Mix into your project's Query: ``class Query(user_messages.schema.Query, ...)``."""

    my_messages = graphene.List(
        graphene.NonNull(UserMessage),
        required=True,
        peek=graphene.Boolean(
            default_value=False,
            description="Read without consuming: nothing is marked used or delivered.",
        ),
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
        description="How many stored messages the current user has pending; 0 when signed out.",
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
        description=(
            "The current user's stored messages, newest first, whatever their state: a page of "
            "at most first, older than after. Never consumes, so GET may read it. Aliases with "
            "the same arguments share one answer. Empty when signed out."
        ),
    )

    @staticmethod
    def resolve_my_messages(root: Any, info: graphene.ResolveInfo, peek: bool = False) -> list[Any]:
        request = info.context
        if peek:
            return _once_per_request(  # type: ignore[no-any-return]
                info, "peek", lambda: list(api.peek_messages(request=request))
            )
        # A context without a method (schema.execute() in a shell) is treated as a GET.
        if getattr(request, "method", "GET") in SAFE_METHODS:
            raise GraphQLError(CONSUMING_NEEDS_POST)
        return _once_per_request(  # type: ignore[no-any-return]
            info, "read", lambda: list(api.get_messages(request=request))
        )

    @staticmethod
    def resolve_my_message_count(root: Any, info: graphene.ResolveInfo) -> int:
        return _pending_count(info)

    @staticmethod
    def resolve_my_message_history(
        root: Any,
        info: graphene.ResolveInfo,
        first: int = 20,
        after: str | None = None,
        states: list[MessageState] | None = None,
    ) -> UserMessageConnection:
        key = repr(("history", first, after, None if states is None else sorted(states)))
        return _once_per_request(  # type: ignore[no-any-return]
            info, key, lambda: _history_connection(info.context, first, after, states)
        )


UserMessagesErrorCodeEnum = graphene.Enum.from_enum(
    UserMessagesErrorCode, name="UserMessagesErrorCode"
)


class UserMessagesError(graphene.ObjectType):
    """Something a client got wrong, returned as data."""

    field = graphene.String(description="The input field (camelCase) at fault; null: the request.")
    message = graphene.String(required=True, description="What went wrong, for humans.")
    code = UserMessagesErrorCodeEnum(required=True, description="What went wrong, for programs.")


def _error(message: str, code: UserMessagesErrorCode) -> ValidationError:
    return ValidationError(message, code=code.value)


def _errors_as_data(error: ValidationError) -> list[UserMessagesError]:
    """Turn a ValidationError (with or without fields) into the payload's ``errors`` list."""
    by_field = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: [error]}
    errors = []
    for name, field_errors in by_field.items():
        field = None if name == NON_FIELD_ERRORS else to_camel_case(name)
        for field_error in field_errors:
            for single in field_error.error_list:
                # An unknown code is a programming error: let it reach the top-level errors.
                code = UserMessagesErrorCode(single.code)
                message = single.message % single.params if single.params else single.message
                errors.append(UserMessagesError(field=field, message=str(message), code=code))
    return errors


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
        user = _signed_in_user(request)
        if cls._meta.login_required and user is None:
            raise _error("You must be signed in.", UserMessagesErrorCode.UNAUTHENTICATED)
        if cls._meta.permission is not None:
            permission = cls._meta.permission()
            if user is None or not user.has_perm(permission):
                raise _error(
                    f"You need the permission {permission!r}.",
                    UserMessagesErrorCode.PERMISSION_DENIED,
                )

    @classmethod
    def mutate(cls, root: Any, info: graphene.ResolveInfo, **data: Any) -> UserMessagesMutation:
        # graphene-django's view refuses mutations over GET already; this holds in any view.
        if getattr(info.context, "method", None) in SAFE_METHODS:
            raise GraphQLError(f"{info.field_name} changes data, so it needs a POST request.")
        try:
            cls.check_permissions(info.context)
            payload: UserMessagesMutation = cls.perform_mutation(info, **data)
        except ValidationError as error:
            return cls(errors=_errors_as_data(error), **cls.nothing_done())
        # What myMessages or myMessageCount computed earlier in this request is stale now.
        _request_state(info).pop("results", None)
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


def _too_many(what: str, limit: int, got: int, used: int) -> ValidationError:
    if used:
        message = (
            f"At most {limit} {what} per request; other fields of this request used {used}, "
            f"this one has {got}."
        )
    else:
        message = f"At most {limit} {what} per request, got {got}."
    return _error(message, UserMessagesErrorCode.TOO_MANY)


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
            description="At most USER_MESSAGES['MAX_ACKNOWLEDGE_IDS'] per request.",
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
        user = _signed_in_user(info.context)
        return api.pending_count(user) if user is not None else 0

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo, ids: list[str]) -> AcknowledgeMessages:
        limit = conf.MAX_ACKNOWLEDGE_IDS
        used = _spend(info, "acknowledge_ids", len(ids), limit)
        if used is not None:
            raise ValidationError({"ids": [_too_many("ids", limit, len(ids), used)]})
        parsed: dict[str, int | validation.InvalidInput] = {}
        for value in dict.fromkeys(ids):
            try:
                parsed[value] = validation.message_id(value)
            except validation.InvalidInput as error:
                parsed[value] = error
        wanted = list(dict.fromkeys(pk for pk in parsed.values() if isinstance(pk, int)))
        own = set(api.acknowledge_owned(info.context.user, wanted))
        # In the order the client sent the ids.
        errors = []
        for value, pk in parsed.items():
            if isinstance(pk, validation.InvalidInput):
                errors.append(_error(str(pk), pk.code))
            elif pk not in own:
                not_found = f"There is no message with id {value!r}."
                errors.append(_error(not_found, UserMessagesErrorCode.NOT_FOUND))
        return cls(
            acknowledged_ids=[str(pk) for pk in wanted if pk in own],
            errors=_errors_as_data(ValidationError({"ids": errors})) if errors else [],
        )

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"acknowledged_ids": []}


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
        user = _signed_in_user(info.context)
        return api.pending_count(user) if user is not None else 0

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo) -> AcknowledgeAllMessages:
        return cls(acknowledged_count=api.acknowledge_all(info.context.user), errors=[])

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"acknowledged_count": 0}


class MessageLevel(enum.IntEnum):
    """The five levels of django.contrib.messages."""

    DEBUG = constants.DEBUG
    INFO = constants.INFO
    SUCCESS = constants.SUCCESS
    WARNING = constants.WARNING
    ERROR = constants.ERROR


MessageLevelEnum: Any = graphene.Enum.from_enum(MessageLevel, name="MessageLevel")


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
    level = MessageLevelEnum(required=True)
    message = graphene.String(
        required=True, description="At most USER_MESSAGES['MAX_MESSAGE_LENGTH'] characters."
    )
    extra_tags = graphene.String(required=True, default_value="")
    meta = JSONObject(
        description="A JSON object; compact UTF-8 JSON of at most USER_MESSAGES['MAX_META_BYTES']."
    )
    deliver_once = graphene.Boolean(
        required=True,
        default_value=True,
        description="False: show the message until the recipient acknowledges it.",
    )
    expires_at = graphene.DateTime(description="A future time with a UTC offset; null: never.")


def _recipient_ids(info: graphene.ResolveInfo, values: list[str]) -> list[Any]:
    if not values:
        raise ValidationError(
            {"recipients": [_error("Name at least one recipient.", UserMessagesErrorCode.REQUIRED)]}
        )
    # Every id asked about counts, found or not: the limit bounds the database work a request
    # can cause, across however many aliased sendMessage fields it holds.
    distinct = list(dict.fromkeys(values))
    limit = conf.MAX_RECIPIENTS
    used = _spend(info, "recipients", len(distinct), limit)
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


def _validated_send_input(info: graphene.ResolveInfo, data: SendMessageInput) -> dict[str, Any]:
    """Check everything a client can get wrong; raise one ValidationError listing it all."""
    errors: dict[str, list[ValidationError]] = {}
    fields: dict[str, Any] = {"level": int(data.level), "deliver_once": data.deliver_once}
    rules: dict[str, Callable[[], Any]] = {
        "user": lambda: _recipient_ids(info, data.recipients),
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


def _send_permission() -> str:
    return conf.SEND_PERMISSION


class SendMessage(UserMessagesMutation):
    """Store a message for each recipient; on any error nothing is stored."""

    count = graphene.Int(
        required=True, description="How many messages were stored: one per distinct recipient."
    )

    class Arguments:
        input = SendMessageInput(required=True)

    class Meta:
        permission = _send_permission
        permission_description = (
            "Requires the permission USER_MESSAGES['SEND_PERMISSION'] "
            "(default: user_messages.add_message)."
        )

    @classmethod
    def perform_mutation(cls, info: graphene.ResolveInfo, input: SendMessageInput) -> SendMessage:
        fields = _validated_send_input(info, input)
        try:
            count = api.add_message(
                fields["user"],
                fields["level"],
                fields["message"],
                fields["extra_tags"],
                deliver_once=fields["deliver_once"],
                meta=fields["meta"],
                expires_at=fields["expires_at"],
            )
        except ValueError as error:
            # Everything else was validated above; what remains is the API's check, made
            # before it writes anything, that every recipient exists.
            raise ValidationError(
                {"recipients": _error(str(error), UserMessagesErrorCode.NOT_FOUND)}
            ) from None
        return cls(count=count, errors=[])

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"count": 0}


class Mutation(graphene.ObjectType):
    """Mix into your project's Mutation: ``class Mutation(user_messages.schema.Mutation, ...)``."""

    acknowledge_messages = AcknowledgeMessages.Field(required=True)
    acknowledge_all_messages = AcknowledgeAllMessages.Field(required=True)
    send_message = SendMessage.Field(required=True)


class Subscription(graphene.ObjectType):
    """Mix into your project's Subscription; served over WebSocket by ``user_messages.realtime``."""

    my_message_count = graphene.Int(
        required=True,
        description=(
            "The current user's pending count: at once, then each time it changes (a message "
            "stored, delivered or acknowledged anywhere). Consumes nothing: read the messages "
            "with myMessages when it goes up. Needs a signed-in user."
        ),
    )

    @staticmethod
    async def subscribe_my_message_count(root: Any, info: graphene.ResolveInfo) -> Any:
        # info.context is the socket's user_messages.realtime.consumer.LiveContext.
        live = info.context
        user = getattr(live, "user", None)
        if user is None or not user.is_authenticated:
            raise GraphQLError("Sign in to subscribe to myMessageCount.")
        # Listen before the first read, so a change between the two is not missed.
        async with live.message_changes() as changes:
            count = await live.pending_count()
            yield count
            async for _ in changes:
                new_count = await live.pending_count()
                if new_count != count:
                    count = new_count
                    yield count
