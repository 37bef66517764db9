"""graphene-django's ``GraphQLView`` with every per-request cost bounded: a drop-in replacement.

It also parses and validates each distinct document once per process instead of on every request.

Only projects that install the ``graphql`` extra import this module.
"""

# graphene-django ships no type information, so its view is Any to mypy.
# mypy: disallow-subclassing-any=False

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed
from django.http.multipartparser import MultiPartParserError
from graphene_django import views
from graphene_django.constants import MUTATION_ERRORS_FLAG
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    validate_schema,
)
from graphql.validation import ASTValidationRule

from user_messages.conf import conf
from user_messages.graphql_limits import DocumentLimits, parse_document, validate_document

__all__ = ["GraphQLView"]

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


class GraphQLView(views.GraphQLView):
    """graphene-django's view that refuses what would cost a request unbounded work.

    - A document over ``USER_MESSAGES["MAX_QUERY_LENGTH"]`` characters is refused unparsed;
      the parser stops after ``USER_MESSAGES["MAX_QUERY_TOKENS"]`` tokens (comments count).
    - Validation first checks the depth, fields and comparisons limits of
      ``user_messages.graphql_limits`` in one linear walk; only a document within them goes on
      to GraphQL's specified rules, then any ``validation_rules`` you pass: they add to the
      specified rules instead of replacing them, as they would in graphene-django's view.
    - Each process keeps the parsed document and its validation errors for the last
      ``DOCUMENT_CACHE_SIZE`` distinct documents of up to ``MAX_CACHED_QUERY_LENGTH``
      characters, per schema, rules and limits: a repeated document is neither parsed nor
      validated again. Your ``validation_rules`` must therefore depend only on the schema and
      the document, not on the request.
    - A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets 413 (multipart file parts included: a
      declared Content-Length over the limit is refused before the body is read), a body
      nested too deeply for Python's JSON parser, undecodable text or a broken multipart body
      gets 400; all answer
      ``{"errors": [{"message": ...}]}`` like graphene-django's own refusals.

    CSRF protection stays as it is: do not wrap the view in ``csrf_exempt``.
    """

    validation_rules: Collection[type[ASTValidationRule]] | None

    def parse_body(self, request: HttpRequest) -> Any:
        """The request's GraphQL parameters; a refused body raises graphene-django's HttpError."""
        try:
            _refuse_declared_excess(request)
            if self.get_content_type(request) in ("application/json", "application/graphql"):
                # Read here, or graphene-django turns RequestDataTooBig into a 400 whose message
                # names Django's setting.
                request.body  # noqa: B018
            return super().parse_body(request)
        except RequestDataTooBig as error:
            _log_security_error(request, error, status=413)
            raise views.HttpError(
                HttpResponse(status=413), "The request body is larger than the server accepts."
            ) from None
        except SuspiciousOperation as error:
            # Django refuses the body (too many form fields or files): answer like the view does.
            _log_security_error(request, error, status=400)
            raise views.HttpError(
                HttpResponseBadRequest(), "The request body is refused."
            ) from None
        except RecursionError:
            # graphene-django catches only TypeError and ValueError around json.loads.
            raise views.HttpError(HttpResponseBadRequest(), NESTED_TOO_DEEPLY) from None
        except (UnicodeDecodeError, MultiPartParserError):
            raise views.HttpError(
                HttpResponseBadRequest(), "The request body cannot be decoded."
            ) from None

    def execute_graphql_request(
        self,
        request: HttpRequest,
        data: Any,
        query: Any,
        variables: Any,
        operation_name: Any,
        show_graphiql: bool = False,
    ) -> ExecutionResult | None:
        """Run the request as graphene-django's view does, with a cached parse and validation."""
        # An empty string goes on to the parser's syntax error, as it did when a token-counting
        # parse ran before graphene-django's own steps.
        if not query and not isinstance(query, str):
            if show_graphiql:
                return None
            raise views.HttpError(HttpResponseBadRequest("Must provide query string."))
        schema = self.schema.graphql_schema
        try:
            checked = self._checked_document(schema, query)
        except _Unparsable as unparsable:
            # A query that is not text raises TypeError; graphene-django's format_error answers
            # any exception with its message, as it did before.
            return ExecutionResult(errors=[unparsable.error])  # type: ignore[list-item]
        except RecursionError:
            # Older graphql-core releases let the parser and validation overflow the stack.
            return ExecutionResult(errors=[GraphQLError(NESTED_TOO_DEEPLY)])
        schema_errors = validate_schema(schema)
        if schema_errors:
            return ExecutionResult(data=None, errors=list(schema_errors))
        operation = get_operation_ast(checked.document, operation_name)
        # Django upper-cases the method; graphene-django compares it in lower case.
        if (
            request.method == "GET"
            and operation is not None
            and operation.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise views.HttpError(
                HttpResponseNotAllowed(
                    ["POST"],
                    f"Can only perform a {operation.operation.value} operation"
                    " from a POST request.",
                )
            )
        if checked.errors:
            return ExecutionResult(data=None, errors=list(checked.errors))
        return self._execute(
            request, schema, checked.document, operation, variables, operation_name
        )

    def _checked_document(self, schema: GraphQLSchema, query: Any) -> _CheckedDocument:
        rules = tuple(self.validation_rules or ())
        # The object graphene-django's view reads, so both views agree on the setting.
        max_errors = views.graphene_settings.MAX_VALIDATION_ERRORS
        # Read per request (Django builds a view instance per request), and part of the key.
        limits = DocumentLimits.from_settings()
        parsing = (conf.MAX_QUERY_LENGTH, conf.MAX_QUERY_TOKENS)
        if isinstance(query, str) and len(query) <= MAX_CACHED_QUERY_LENGTH:
            return _cached_check(schema, rules, max_errors, parsing, limits, query)
        return _check(schema, rules, max_errors, parsing, limits, query)

    def _execute(
        self,
        request: HttpRequest,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode | None,
        variables: Any,
        operation_name: Any,
    ) -> ExecutionResult:
        try:
            options: dict[str, Any] = {
                "root_value": self.get_root_value(request),
                "context_value": self.get_context(request),
                "variable_values": variables,
                "operation_name": operation_name,
                "middleware": self.get_middleware(request),
            }
            if self.execution_context_class:
                options["execution_context_class"] = self.execution_context_class
            if (
                operation is not None
                and operation.operation == OperationType.MUTATION
                and _atomic_mutations()
            ):
                with transaction.atomic():
                    result = execute(schema, document, **options)
                    if getattr(request, MUTATION_ERRORS_FLAG, False) is True:
                        transaction.set_rollback(True)
            else:
                result = execute(schema, document, **options)
        except Exception as error:
            # As graphene-django's view: a failing get_context() or the like answers its message.
            return ExecutionResult(errors=[error])  # type: ignore[list-item]
        # Awaitable only with async resolvers, which graphene-django's sync view cannot run either.
        return cast("ExecutionResult", result)


@dataclass(frozen=True)
class _CheckedDocument:
    """A parsed document and what validating it against one schema and rule set reported."""

    document: DocumentNode
    errors: tuple[GraphQLError, ...]


class _Unparsable(Exception):
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
) -> _CheckedDocument:
    """Parse ``query`` within its length and token limits, and validate it.

    Parse errors raise ``_Unparsable``.
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
        raise _Unparsable(error) from None
    if validate_schema(schema):
        # validate() refuses an invalid schema; the view answers with the schema's errors.
        return _CheckedDocument(document, ())
    errors = validate_document(schema, document, rules, max_errors=max_errors, limits=limits)
    return _CheckedDocument(document, tuple(errors))


# The key holds everything the outcome depends on, settings included, so no setting change
# can serve a stale outcome. Sharing one DocumentNode between threads is safe: graphql-core
# 3.2's execute() and get_operation_ast() only read the AST (execute keys its own caches by
# id(), names and paths) and never ask for a node's hash, a node's one lazy write. lru_cache
# is thread-safe; two threads missing the same document at once both check it, one is kept.
_cached_check = lru_cache(maxsize=DOCUMENT_CACHE_SIZE)(_check)


def _refuse_declared_excess(request: HttpRequest) -> None:
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


def _atomic_mutations() -> bool:
    # graphene-django's two switches: its setting, or one on the default database.
    return (
        views.graphene_settings.ATOMIC_MUTATIONS is True
        or connection.settings_dict.get("ATOMIC_MUTATIONS", False) is True
    )


def _log_security_error(request: HttpRequest, error: Exception, *, status: int) -> None:
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
