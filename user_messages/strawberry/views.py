"""Strawberry's Django ``GraphQLView`` answering as the package's graphene view does.

The same request rules on both stacks: a declared body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
gets 413 unread; a body nested too deeply, undecodable or broken gets 400; every refusal is
JSON, ``{"errors": [{"message": ...}]}``; a mutation over GET gets 405; a document that does not
validate gets 400 without ``data``. CSRF protection stays: do not wrap it in ``csrf_exempt``.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException, SyncHTTPRequestAdapter
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from strawberry.django import views
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from user_messages.graphql_http import (
    NESTED_TOO_DEEPLY,
    log_security_error,
    refuse_declared_excess,
)

__all__ = ["GraphQLView"]


class GraphQLView(views.GraphQLView):
    """Mount at ``/graphql``: ``GraphQLView.as_view(schema=schema)``.

    Add ``user_messages.strawberry.QueryLimits`` to the schema's extensions: the view bounds
    the request, the extension the document.
    """

    # As graphene-django's view: any answer sets the csrftoken cookie an SPA echoes in its POSTs.
    @method_decorator(ensure_csrf_cookie)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Run the request; Strawberry's plain-text refusals become JSON errors."""
        try:
            return self.run(request=request)
        except HTTPException as error:
            response = JsonResponse(
                {"errors": [{"message": error.reason}]}, status=error.status_code
            )
            if error.status_code == 405:
                # A mutation over GET may be POSTed; other methods may be neither.
                response["Allow"] = "POST" if request.method == "GET" else "GET, POST"
            return response

    def parse_http_body(
        self, request: SyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's GraphQL parameters, read as graphene-django reads them.

        The same bodies (JSON, ``application/graphql``, form and multipart fields), the query
        string's parameters first, ``variables`` as an object or as JSON text, and the same
        refusals; a refused body raises HTTPException.
        """
        django_request: HttpRequest = request.request  # type: ignore[attr-defined]
        try:
            refuse_declared_excess(django_request)
            data = _body_parameters(django_request)
            return _graphql_parameters(django_request, data)
        except RequestDataTooBig as error:
            log_security_error(django_request, error, status=413)
            raise HTTPException(
                413, "The request body is larger than the server accepts."
            ) from None
        except SuspiciousOperation as error:
            log_security_error(django_request, error, status=400)
            raise HTTPException(400, "The request body is refused.") from None
        except RecursionError:
            raise HTTPException(400, NESTED_TOO_DEEPLY) from None
        except (UnicodeDecodeError, MultiPartParserError):
            raise HTTPException(400, "The request body cannot be decoded.") from None

    def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Execute one operation; refusals say what graphene-django's view says."""
        request_data: GraphQLRequestData = kwargs["request_data"]
        try:
            return super().execute_single(*args, **kwargs)
        except HTTPException as error:
            cause = error.__cause__
            if isinstance(cause, InvalidOperationTypeError):
                operation = cause.operation_type.value
                raise HTTPException(
                    405, f"Can only perform a {operation} operation from a POST request."
                ) from None
            if isinstance(cause, MissingQueryError) or not request_data.query:
                raise HTTPException(400, "Must provide query string.") from None
            raise

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: HttpResponse,
    ) -> HttpResponseBase:
        """The result as JSON; 400 without ``data`` for an error of the request, not a field."""
        if isinstance(response_data, dict):
            errors: list[dict[str, Any]] = response_data.get("errors") or []  # type: ignore[assignment]
            if any("path" not in error for error in errors):
                sub_response.status_code = 400
                response_data = {"errors": errors}  # type: ignore[assignment]
        return super().create_response(response_data, sub_response)


def _body_parameters(request: HttpRequest) -> Any:
    content_type = request.META.get("CONTENT_TYPE", "").split(";", 1)[0].lower()
    if request.method != "POST":
        return {}
    if content_type == "application/graphql":
        return {"query": request.body.decode()}
    if content_type == "application/json":
        body = request.body.decode("utf-8")
        try:
            data = json.loads(body)
        except RecursionError:
            raise
        except (TypeError, ValueError):
            # ValueError too: json refuses an integer of more than 4,300 digits with one.
            raise HTTPException(400, "POST body sent invalid JSON.") from None
        if not isinstance(data, dict):
            raise HTTPException(400, "The received data is not a valid JSON query.")
        return data
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.POST
    return {}


def _graphql_parameters(request: HttpRequest, data: Any) -> GraphQLRequestData:
    query = request.GET.get("query") or data.get("query")
    variables = request.GET.get("variables") or data.get("variables")
    if variables and isinstance(variables, str):
        try:
            variables = json.loads(variables)
        except Exception:
            raise HTTPException(400, "Variables are invalid JSON.") from None
    operation_name = request.GET.get("operationName") or data.get("operationName")
    if operation_name == "null":
        operation_name = None
    return GraphQLRequestData(
        query=query, variables=variables, operation_name=operation_name, extensions=None
    )
