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

import enum
import json
import re
from collections.abc import Callable
from typing import Any

import graphene
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.messages import constants
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest
from django.utils import timezone
from graphene.types.generic import GenericScalar
from graphene.types.mutation import MutationOptions
from graphene.utils.str_converters import to_camel_case
from graphene.utils.trim_docstring import trim_docstring

from user_messages import api
from user_messages.conf import conf
from user_messages.models import Message

__all__ = [
    "AcknowledgeMessages",
    "JSONObject",
    "MessageLevel",
    "Mutation",
    "Query",
    "SendMessage",
    "SendMessageInput",
    "UserMessage",
    "UserMessagesError",
    "UserMessagesErrorCode",
    "UserMessagesMutation",
]

# Every backend we support stores ids in at most a signed 64-bit integer; larger numbers
# crash SQLite's driver (OverflowError) instead of matching nothing, so they never reach a query.
_MAX_ID = 2**63 - 1
_MESSAGE_ID = re.compile(r"[0-9]{1,19}")


class JSONObject(GenericScalar):
    """A JSON object, sent and received as an object (not as a string holding JSON)."""


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


def _signed_in_user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


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
            "them: session messages first, then stored ones. Consumes what it returns unless "
            "peek is true. Signed-out users get their session messages."
        ),
    )
    my_message_count = graphene.Int(
        required=True,
        description="How many stored messages the current user has pending; 0 when signed out.",
    )

    @staticmethod
    def resolve_my_messages(root: Any, info: graphene.ResolveInfo, peek: bool = False) -> list[Any]:
        if peek:
            return api.peek_messages(request=info.context)
        return list(api.get_messages(request=info.context))

    @staticmethod
    def resolve_my_message_count(root: Any, info: graphene.ResolveInfo) -> int:
        user = _signed_in_user(info.context)
        return api.pending_count(user) if user is not None else 0


class UserMessagesErrorCode(enum.Enum):
    """Why a mutation refused (part of) its input."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    UNAUTHENTICATED = "unauthenticated"


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
        try:
            cls.check_permissions(info.context)
            payload: UserMessagesMutation = cls.perform_mutation(info, **data)
        except ValidationError as error:
            return cls(errors=_errors_as_data(error), **cls.nothing_done())
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


def _parse_message_id(value: str) -> int | None:
    if not _MESSAGE_ID.fullmatch(value):
        return None
    pk = int(value)
    return pk if 0 < pk <= _MAX_ID else None


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
        ids = graphene.List(graphene.NonNull(graphene.ID), required=True)

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
        user = info.context.user
        parsed = {value: _parse_message_id(value) for value in ids}
        wanted = list(dict.fromkeys(pk for pk in parsed.values() if pk is not None))
        own = set(api.acknowledge_owned(user, wanted))
        errors = []
        for value, pk in parsed.items():
            if pk is None:
                errors.append(
                    _error(f"{value!r} is not a valid message id.", UserMessagesErrorCode.INVALID)
                )
            elif pk not in own:
                errors.append(
                    _error(
                        f"There is no message with id {value!r}.", UserMessagesErrorCode.NOT_FOUND
                    )
                )
        return cls(
            acknowledged_ids=[str(pk) for pk in wanted if pk in own],
            errors=_errors_as_data(ValidationError({"ids": errors})) if errors else [],
        )

    @classmethod
    def nothing_done(cls) -> dict[str, Any]:
        return {"acknowledged_ids": []}


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
        description="Ids of the users to send to (at most USER_MESSAGES['MAX_RECIPIENTS']).",
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


def _check_text(name: str, value: str, errors: dict[str, list[ValidationError]]) -> None:
    if "\x00" in value:
        # PostgreSQL cannot store NUL in text; the Python API refuses it on every backend.
        errors.setdefault(name, []).append(
            _error(
                f"{to_camel_case(name)} must not contain NUL characters.",
                UserMessagesErrorCode.INVALID,
            )
        )


def _recipient_ids(values: list[str], errors: dict[str, list[ValidationError]]) -> list[Any]:
    if not values:
        errors["recipients"] = [
            _error("Name at least one recipient.", UserMessagesErrorCode.REQUIRED)
        ]
        return []
    limit = conf.MAX_RECIPIENTS
    if len(values) > limit:
        errors["recipients"] = [
            _error(
                f"At most {limit} recipients per message, got {len(values)}.",
                UserMessagesErrorCode.TOO_MANY,
            )
        ]
        return []
    pk_field = get_user_model()._meta.pk
    user_ids = []
    for value in dict.fromkeys(values):
        try:
            user_id = pk_field.to_python(value)
        except ValidationError:
            user_id = None
        if user_id is None or (isinstance(user_id, int) and not -_MAX_ID <= user_id <= _MAX_ID):
            errors.setdefault("recipients", []).append(
                _error(f"{value!r} is not a valid user id.", UserMessagesErrorCode.INVALID)
            )
        else:
            user_ids.append(user_id)
    return user_ids


def _validated_meta(meta: Any, errors: dict[str, list[ValidationError]]) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        errors["meta"] = [_error("meta must be a JSON object.", UserMessagesErrorCode.INVALID)]
        return {}
    try:
        text = json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        # The view's JSON parser accepts NaN and Infinity, which are not JSON.
        errors["meta"] = [_error("meta must be valid JSON.", UserMessagesErrorCode.INVALID)]
        return {}
    if "\\u0000" in text:
        errors["meta"] = [
            _error("meta must not contain NUL characters.", UserMessagesErrorCode.INVALID)
        ]
    elif len(text.encode()) > conf.MAX_META_BYTES:
        errors["meta"] = [
            _error(
                f"meta must be at most {conf.MAX_META_BYTES} bytes as JSON, "
                f"got {len(text.encode())}.",
                UserMessagesErrorCode.TOO_LONG,
            )
        ]
    return meta


def _validated_send_input(data: SendMessageInput) -> dict[str, Any]:
    """Check everything a client can get wrong; raise one ValidationError listing it all."""
    errors: dict[str, list[ValidationError]] = {}
    user_ids = _recipient_ids(data.recipients, errors)

    message = data.message
    if not message.strip():
        errors["message"] = [_error("Write a message.", UserMessagesErrorCode.REQUIRED)]
    elif len(message) > conf.MAX_MESSAGE_LENGTH:
        errors["message"] = [
            _error(
                f"message must be at most {conf.MAX_MESSAGE_LENGTH} characters, "
                f"got {len(message)}.",
                UserMessagesErrorCode.TOO_LONG,
            )
        ]
    else:
        _check_text("message", message, errors)
    if len(data.extra_tags) > conf.MAX_EXTRA_TAGS_LENGTH:
        errors["extra_tags"] = [
            _error(
                f"extraTags must be at most {conf.MAX_EXTRA_TAGS_LENGTH} characters, "
                f"got {len(data.extra_tags)}.",
                UserMessagesErrorCode.TOO_LONG,
            )
        ]
    else:
        _check_text("extra_tags", data.extra_tags, errors)
    meta = _validated_meta(data.meta, errors)

    expires_at = data.expires_at
    if expires_at is not None:
        if settings.USE_TZ and timezone.is_naive(expires_at):
            errors["expires_at"] = [
                _error(
                    "expiresAt needs a UTC offset, such as 2030-01-01T12:00:00+00:00.",
                    UserMessagesErrorCode.INVALID,
                )
            ]
        elif expires_at <= timezone.now():
            errors["expires_at"] = [
                _error("expiresAt must be in the future.", UserMessagesErrorCode.INVALID)
            ]
    if errors:
        raise ValidationError(errors)
    return {
        "user": user_ids,
        "level": int(data.level),
        "message": message,
        "extra_tags": data.extra_tags,
        "meta": meta,
        "deliver_once": data.deliver_once,
        "expires_at": expires_at,
    }


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
        fields = _validated_send_input(input)
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
    send_message = SendMessage.Field(required=True)
