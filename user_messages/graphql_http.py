"""What both GraphQL views (graphene's and Strawberry's) decide about a request and its answer.

A declared body over the upload limit is refused unread, and each distinct document is parsed
and validated once per process (``check_document``). The request's parameters, the operation
to run, the media type and status code of the answer (the GraphQL-over-HTTP specification),
Django's CSRF check answered as GraphQL, and which errors are the server's to log are decided
here, once for both. Imports neither graphene nor Strawberry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    validate_schema,
)
from graphql.validation import ASTValidationRule

from user_messages.conf import conf
from user_messages.graphql_limits import DocumentLimits, parse_document, validate_document

__all__ = [
    "CSRF_REFUSAL",
    "DOCUMENT_CACHE_SIZE",
    "GRAPHQL_RESPONSE_JSON",
    "LEGACY_JSON",
    "MAX_CACHED_QUERY_LENGTH",
    "NESTED_TOO_DEEPLY",
    "VARIABLES_NOT_AN_OBJECT",
    "CheckedDocument",
    "RequestRefused",
    "Unparsable",
    "check_document",
    "check_parameters",
    "content_type",
    "csrf_check_refuses",
    "csrf_refusal",
    "decode_json_parameter",
    "is_client_mistake",
    "is_request_error",
    "log_security_error",
    "log_server_errors",
    "media_type",
    "operations_allowed",
    "project_middleware",
    "refuse_declared_excess",
    "refuse_over_get",
    "select_operation",
    "status_for",
]

NESTED_TOO_DEEPLY = "The request is nested too deeply."

# Distinct documents kept parsed and validated, per process, least recently used out first.
# A project's clients send a handful to a few dozen distinct operations, and a miss costs only
# what graphene-django's view pays on every request. One entry keeps its tokens (for error
# locations): at the default MAX_QUERY_TOKENS it holds at most about 0.5 MB (500 distinct
# unknown fields and their 100 errors, measured with tracemalloc), so a stream of distinct
# documents pins about 17 MB.
DOCUMENT_CACHE_SIZE = 32
# Longer documents are parsed and validated on every request: the cap bounds an entry when a
# project raises MAX_QUERY_LENGTH and MAX_QUERY_TOKENS (10,000 dense characters hold about
# 2.8 MB). GraphiQL's introspection query is under 2,000 characters, the package's operations
# under 500.
MAX_CACHED_QUERY_LENGTH = 10_000


def check_document(
    schema: GraphQLSchema,
    rules: tuple[type[ASTValidationRule], ...],
    max_errors: int | None,
    query: Any,
) -> CheckedDocument:
    """``query`` parsed within its limits and validated: the limits' linear walk first.

    Cached per process for documents of up to ``MAX_CACHED_QUERY_LENGTH`` characters, keyed
    by everything the outcome depends on. Parse errors raise ``Unparsable``.
    """
    # Read per request, and part of the key, so a settings change never serves a stale outcome.
    limits = DocumentLimits.from_settings()
    parsing = (conf.MAX_QUERY_LENGTH, conf.MAX_QUERY_TOKENS)
    if isinstance(query, str) and len(query) <= MAX_CACHED_QUERY_LENGTH:
        return _cached_check(schema, rules, max_errors, parsing, limits, query)
    return _check(schema, rules, max_errors, parsing, limits, query)


@dataclass(frozen=True)
class CheckedDocument:
    """A parsed document and what validating it against one schema and rule set reported."""

    document: DocumentNode
    errors: tuple[GraphQLError, ...]


class Unparsable(Exception):
    """What the parser raised for a query, to answer as the request's errors."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _check(
    schema: GraphQLSchema,
    rules: tuple[type[ASTValidationRule], ...],
    max_errors: int | None,
    parsing: tuple[int, int],
    limits: DocumentLimits,
    query: Any,
) -> CheckedDocument:
    """Parse ``query`` within its length and token limits, and validate it.

    Parse errors raise ``Unparsable``.
    """
    max_length, max_tokens = parsing
    try:
        document = parse_document(query, max_length=max_length, max_tokens=max_tokens)
    except RecursionError:
        raise
    except Exception as error:
        # Raised, so the cache keeps no parse errors: the parser stops at the first bad token
        # and no validation follows, so refusing one again is cheap, and clients repeat
        # documents that parse; junk would only push those out.
        raise Unparsable(error) from None
    if validate_schema(schema):
        # validate() refuses an invalid schema; the view answers with the schema's errors.
        return CheckedDocument(document, ())
    errors = validate_document(schema, document, rules, max_errors=max_errors, limits=limits)
    return CheckedDocument(document, tuple(errors))


# The key holds everything the outcome depends on, settings included, so no setting change
# can serve a stale outcome. Sharing one DocumentNode between threads is safe: graphql-core
# 3.2's execute() and get_operation_ast() only read the AST (execute keys its own caches by
# id(), names and paths) and never ask for a node's hash, a node's one lazy write. lru_cache
# is thread-safe; two threads missing the same document at once both check it, one is kept.
_cached_check = lru_cache(maxsize=DOCUMENT_CACHE_SIZE)(_check)


def refuse_declared_excess(request: HttpRequest) -> None:
    """Raise RequestDataTooBig for a body whose Content-Length is over the upload limit.

    Django counts only non-file parts of a multipart body against DATA_UPLOAD_MAX_MEMORY_SIZE,
    and reads (spools) file parts whatever their size; the API takes no uploads, so any body
    declared larger than the limit is refused before a byte of it is read.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # Django's own parsers refuse a malformed length
    if limit is not None and declared > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


def log_security_error(request: HttpRequest, error: Exception, *, status: int) -> None:
    # What Django's handler would log had the exception reached it, less the request: with it,
    # Django 4.2's AdminEmailHandler reads request.POST for its report and raises again.
    logging.getLogger(f"django.security.{type(error).__name__}").error(
        "%s (%s %s)",
        error,
        request.method,
        request.get_full_path(),
        exc_info=error,
        extra={"status_code": status},
    )


# The request: its parameters and the operation to run


class RequestRefused(Exception):
    """A request the view answers with ``status`` and one error, ``message``, unexecuted."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


VARIABLES_NOT_AN_OBJECT = (
    "Variable values must be provided as a dictionary with variable names as keys. Perhaps look "
    "to see if an unparsed JSON string was provided."
)


def _json_kind(value: Any) -> str:
    """What ``value`` was in the client's JSON (or form) body, as the client wrote it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"


def decode_json_parameter(value: Any, name: str) -> Any:
    """A parameter that a GET query string or a form sends as JSON text, decoded; "" is absent."""
    if not isinstance(value, str):
        return value
    if not value:
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise RequestRefused(400, f"{name.capitalize()} are invalid JSON.") from None


def check_parameters(query: Any, variables: Any, operation_name: Any, extensions: Any) -> None:
    """Raise RequestRefused (400) for a parameter of the wrong JSON type, in the client's terms.

    ``variables`` is the decoded value (a view decodes JSON text first); null stands for absent,
    and so does an empty ``query``.
    """
    if query is None or query == "":
        raise RequestRefused(400, "Must provide query string.")
    if not isinstance(query, str):
        raise RequestRefused(
            400, f"The query parameter must be a string of GraphQL, not {_json_kind(query)}."
        )
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, VARIABLES_NOT_AN_OBJECT)
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRefused(
            400,
            "The operationName parameter must be a string or null, "
            f"not {_json_kind(operation_name)}.",
        )
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestRefused(
            400,
            f"The extensions parameter must be an object or null, not {_json_kind(extensions)}.",
        )


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    """The operation the request names, as GraphQL's execution selects it; else GraphQLError.

    A document of several operations needs ``operationName``: running the first would answer
    another question than the client asked. The messages are graphql-core's own.
    """
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if operation_name is None:
        if len(operations) > 1:
            raise GraphQLError("Must provide operation name if query contains multiple operations.")
        if not operations:
            raise GraphQLError("Must provide an operation.")
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    raise GraphQLError(f"Unknown operation named '{operation_name}'.")


def operations_allowed(method: str | None) -> frozenset[OperationType]:
    """The operation types a request of ``method`` may run: over GET only queries.

    GET is neither checked for CSRF nor meant to change anything (the GraphQL-over-HTTP
    specification), and a subscription needs the WebSocket.
    """
    if method == "GET":
        return frozenset({OperationType.QUERY})
    return frozenset(OperationType)


def refuse_over_get(method: str | None, operation: OperationType) -> None:
    """Raise RequestRefused (405) for a mutation or subscription over GET: only queries may."""
    if operation not in operations_allowed(method):
        raise RequestRefused(
            405, f"Can only perform a {operation.value} operation from a POST request."
        )


# The answer: media type and status code (GraphQL over HTTP)

#: The media type of the GraphQL-over-HTTP specification: its status codes say what failed.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
#: The legacy media type: 200 for every well-formed request, whatever GraphQL answered.
LEGACY_JSON = "application/json"


def media_type(accept: str | None) -> str:
    """The media type to answer a request with ``Accept: accept``.

    ``application/graphql-response+json`` when the client accepts it at least as much as
    ``application/json``; otherwise ``application/json``, also for a missing header, ``*/*``
    and an Accept that names neither (the specification lets a server disregard it rather than
    answer 406, which a browser following a link would only show as a blank error).
    """
    preference = {GRAPHQL_RESPONSE_JSON: 0.0, LEGACY_JSON: 0.0}
    for item in (accept or "").split(","):
        kind, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        kind = kind.lower()
        # A wildcard stands for the legacy type: a client that asks for the new one names it.
        target = LEGACY_JSON if kind in ("*/*", "application/*") else kind
        if target in preference:
            preference[target] = max(preference[target], quality)
    wanted = preference[GRAPHQL_RESPONSE_JSON]
    if wanted > 0 and wanted >= preference[LEGACY_JSON]:
        return GRAPHQL_RESPONSE_JSON
    return LEGACY_JSON


def content_type(media: str) -> str:
    """The Content-Type header of an answer in ``media``."""
    return f"{media}; charset=utf-8"


def is_request_error(errors: Iterable[Any]) -> bool:
    """Whether ``errors`` end the request before execution (no ``data``): not a field's error.

    A document that does not parse or validate, an operation that cannot be selected, variables
    that do not coerce: none of these errors has a path.
    """
    return any(
        not (error.get("path") if isinstance(error, dict) else getattr(error, "path", None))
        for error in errors
    )


def status_for(media: str, *, request_error: bool) -> int:
    """The status of a GraphQL answer: 400 for a request error in the new media type, else 200.

    With ``application/json`` every well-formed request gets 200, as legacy clients expect;
    refusals of the HTTP request itself (a body too large, not JSON, a mutation over GET) keep
    their 4xx in both media types.
    """
    return 400 if request_error and media == GRAPHQL_RESPONSE_JSON else 200


# CSRF, answered in GraphQL's shape

#: The answer (403) to a request the CSRF check refuses.
CSRF_REFUSAL = {
    "errors": [
        {
            "message": (
                "CSRF verification failed: send the csrftoken cookie's value in the "
                "X-CSRFToken header (and, over HTTPS, a Referer or Origin of this site)."
            ),
            "extensions": {"code": "CSRF_FAILED"},
        }
    ]
}


def csrf_refusal(request: HttpRequest) -> bool:
    """Run the project's CSRF middleware check on ``request``; True if it refuses it.

    The views are exempt from the middleware so that they can answer its refusal as a GraphQL
    error instead of Django's HTML page; the check is the same, by the project's own
    middleware class, and only where the project installs one. Django logs the refusal as it
    always does (``django.security.csrf``).
    """
    middleware = project_middleware(CsrfViewMiddleware)
    if middleware is None:
        return False
    return csrf_check_refuses(middleware(_no_response), request)


def csrf_check_refuses(check: CsrfViewMiddleware, request: HttpRequest) -> bool:
    """Whether the CSRF middleware ``check`` refuses ``request``, as it would before a view."""
    check.process_request(request)
    return check.process_view(request, _not_exempt, (), {}) is not None


_Middleware = TypeVar("_Middleware")


def project_middleware(kind: type[_Middleware]) -> type[_Middleware] | None:
    """The class in MIDDLEWARE that is ``kind`` or a subclass of it (the project's), or None."""
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        if isinstance(middleware, type) and issubclass(middleware, kind):
            return middleware
    return None


def _no_response(request: HttpRequest) -> HttpResponse:
    """Stands for the rest of the chain in a middleware used for its checks; never called."""
    raise NotImplementedError


def _not_exempt(request: HttpRequest) -> HttpResponse:
    """Stands for the view in the CSRF check (the real view is marked exempt); never called."""
    raise NotImplementedError


# Logs: a client's mistake is not a server error


def is_client_mistake(error: GraphQLError) -> bool:
    """Whether ``error`` is the client's to fix: raised as a GraphQL error, not an exception.

    Parse, validation and variable errors, and every refusal a resolver raises as a
    GraphQLError (signed out, a bad cursor, ``first: 0``), are; an unexpected exception in a
    resolver is the server's.
    """
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


_server_errors = logging.getLogger("user_messages.graphql")


def log_server_errors(errors: Iterable[Exception]) -> None:
    """Log each server error of a result at ERROR with its traceback; the clients' not at all.

    An error that is not a GraphQLError (the view's own context failed) is the server's too.
    """
    for error in errors:
        if not isinstance(error, GraphQLError):
            _server_errors.error("%s", error, exc_info=error)
        elif not is_client_mistake(error):
            _server_errors.error(
                "%s (at %s)",
                error.message,
                ".".join(str(key) for key in error.path or ()),
                exc_info=error.original_error,
            )
