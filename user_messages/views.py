"""graphene-django's ``GraphQLView`` with every per-request cost bounded: a drop-in replacement.

It also parses and validates each distinct document once per process instead of on every request.

Only projects that install the ``graphql`` extra import this module.
"""

# graphene-django ships no type information, so its view is Any to mypy.
# mypy: disallow-subclassing-any=False

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import connection, transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
)
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from graphene_django import views
from graphene_django.constants import MUTATION_ERRORS_FLAG
from graphene_django.utils.utils import set_rollback
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    validate_schema,
)
from graphql.validation import ASTValidationRule

from user_messages.graphql_http import (
    CSRF_REFUSAL,
    DOCUMENT_CACHE_SIZE,
    LEGACY_JSON,
    MAX_CACHED_QUERY_LENGTH,
    NESTED_TOO_DEEPLY,
    CheckedDocument,
    RequestRefused,
    Unparsable,
    check_document,
    check_parameters,
    content_type,
    csrf_refusal,
    decode_json_parameter,
    is_request_error,
    log_security_error,
    log_server_errors,
    media_type,
    refuse_declared_excess,
    refuse_over_get,
    select_operation,
    status_for,
)
from user_messages.graphql_limits import variable_list_errors

__all__ = ["DOCUMENT_CACHE_SIZE", "MAX_CACHED_QUERY_LENGTH", "GraphQLView"]


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
    - A list of more than ``USER_MESSAGES["MAX_LIST_LENGTH"]`` entries, written in the document
      or passed as a variable, is refused before execution coerces it.
    - A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets 413 (multipart file parts included: a
      declared Content-Length over the limit is refused before the body is read), a body
      nested too deeply for Python's JSON parser, undecodable text or a broken multipart body
      gets 400; all answer
      ``{"errors": [{"message": ...}]}`` like graphene-django's own refusals.
    - The answer's media type follows the request's ``Accept`` (GraphQL over HTTP):
      ``application/graphql-response+json`` (a request error gets 400 without ``data``) when
      the client asks for it, ``application/json`` (200 for every well-formed request)
      otherwise. A mutation or subscription over GET gets 405.

    CSRF protection stays: the project's CSRF middleware checks every POST, and a refusal is
    answered 403 as a GraphQL error instead of Django's HTML page. Do not wrap the view in
    ``csrf_exempt``.
    """

    validation_rules: Collection[type[ASTValidationRule]] | None
    media = LEGACY_JSON

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """The view function; the CSRF middleware leaves its check to ``dispatch``."""
        view = super().as_view(**initkwargs)
        view.csrf_exempt = True
        return view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Answer in the media type the client accepts; refuse what CSRF refuses, as GraphQL."""
        self.media = media_type(request.headers.get("Accept"))
        if csrf_refusal(request):
            return HttpResponseForbidden(
                self.json_encode(request, CSRF_REFUSAL), content_type=content_type(self.media)
            )
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        # Not GraphiQL's page: graphene-django sets application/json on every GraphQL answer.
        if response.get("Content-Type", "").startswith(LEGACY_JSON):
            response["Content-Type"] = content_type(self.media)
        return response

    @staticmethod
    def get_graphql_params(request: HttpRequest, data: Any) -> tuple[Any, Any, Any, Any]:
        """The request's query, variables, operation name and id, checked for their JSON types."""
        query = request.GET.get("query") or data.get("query")
        try:
            variables = decode_json_parameter(
                request.GET.get("variables") or data.get("variables"), "variables"
            )
            operation_name = request.GET.get("operationName") or data.get("operationName")
            if operation_name == "null":
                operation_name = None
            check_parameters(query, variables, operation_name, data.get("extensions"))
        except RequestRefused as refused:
            raise views.HttpError(HttpResponseBadRequest(), refused.message) from None
        return query, variables, operation_name, request.GET.get("id") or data.get("id")

    def get_response(
        self, request: HttpRequest, data: Any, show_graphiql: bool = False
    ) -> tuple[str | None, int]:
        """The encoded answer and its status, as ``user_messages.graphql_http`` decides them."""
        query, variables, operation_name, id_ = self.get_graphql_params(request, data)
        result = self.execute_graphql_request(
            request, data, query, variables, operation_name, show_graphiql
        )
        if getattr(request, MUTATION_ERRORS_FLAG, False) is True:
            set_rollback()
        if result is None:
            return None, 200
        answer: dict[str, Any] = {}
        errors = result.errors or []
        if errors:
            set_rollback()
            log_server_errors(errors)
            answer["errors"] = [self.format_error(error) for error in errors]
        request_error = is_request_error(errors)
        if not request_error:
            answer["data"] = result.data
        status = status_for(self.media, request_error=request_error)
        if self.batch:
            answer["id"] = id_
            answer["status"] = status
        return self.json_encode(request, answer, pretty=show_graphiql), status

    def parse_body(self, request: HttpRequest) -> Any:
        """The request's GraphQL parameters; a refused body raises graphene-django's HttpError."""
        try:
            refuse_declared_excess(request)
            if self.get_content_type(request) in ("application/json", "application/graphql"):
                # Read here, or graphene-django turns RequestDataTooBig into a 400 whose message
                # names Django's setting.
                request.body  # noqa: B018
            return super().parse_body(request)
        except RequestDataTooBig as error:
            log_security_error(request, error, status=413)
            raise views.HttpError(
                HttpResponse(status=413), "The request body is larger than the server accepts."
            ) from None
        except SuspiciousOperation as error:
            # Django refuses the body (too many form fields or files): answer like the view does.
            log_security_error(request, error, status=400)
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
        schema = self.schema.graphql_schema
        try:
            checked = self._checked_document(schema, query)
        except Unparsable as unparsable:
            return ExecutionResult(errors=[unparsable.error])  # type: ignore[list-item]
        except RecursionError:
            # Older graphql-core releases let the parser and validation overflow the stack.
            return ExecutionResult(errors=[GraphQLError(NESTED_TOO_DEEPLY)])
        schema_errors = validate_schema(schema)
        if schema_errors:
            return ExecutionResult(data=None, errors=list(schema_errors))
        try:
            operation = select_operation(checked.document, operation_name)
        except GraphQLError as error:
            # Validation comes first in GraphQL; the selection only matters to a valid document.
            return ExecutionResult(data=None, errors=list(checked.errors) or [error])
        try:
            refuse_over_get(request.method, operation.operation)
        except RequestRefused as refused:
            if show_graphiql:
                return None
            raise views.HttpError(HttpResponseNotAllowed(["POST"]), refused.message) from None
        if checked.errors:
            return ExecutionResult(data=None, errors=list(checked.errors))
        return self._execute(
            request, schema, checked.document, operation, variables, operation_name
        )

    def _checked_document(self, schema: GraphQLSchema, query: Any) -> CheckedDocument:
        rules = tuple(self.validation_rules or ())
        # The object graphene-django's view reads, so both views agree on the setting.
        max_errors = views.graphene_settings.MAX_VALIDATION_ERRORS
        return check_document(schema, rules, max_errors, query)

    def _execute(
        self,
        request: HttpRequest,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode | None,
        variables: Any,
        operation_name: Any,
    ) -> ExecutionResult:
        # Before execution coerces the variables: a list too long is refused unread.
        list_errors = variable_list_errors(schema, document, operation_name, variables)
        if list_errors:
            return ExecutionResult(data=None, errors=list_errors)
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


def _atomic_mutations() -> bool:
    # graphene-django's two switches: its setting, or one on the default database.
    return (
        views.graphene_settings.ATOMIC_MUTATIONS is True
        or connection.settings_dict.get("ATOMIC_MUTATIONS", False) is True
    )
