"""Strawberry's Django ``GraphQLView`` answering as the package's graphene view does.

The same request rules on both stacks (``user_messages.graphql_http`` decides them): a declared
body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets 413 unread; a body nested too deeply, undecodable
or broken, or a parameter of the wrong type, gets 400; every refusal is JSON,
``{"errors": [{"message": ...}]}``; a mutation or subscription over GET gets 405; the media type
and status code follow the request's ``Accept`` (GraphQL over HTTP). CSRF protection stays, its
refusal answered as a GraphQL error: do not wrap the view in ``csrf_exempt``.

``AsyncGraphQLView`` is the same view on Strawberry's ``AsyncGraphQLView``, for async projects:
the same rules, decided by the same code; the package's resolvers run their database work in a
thread there (``strawberry_django.django_resolver``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from cross_web import AsyncHTTPRequestAdapter, HTTPException, SyncHTTPRequestAdapter
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from graphql import OperationType as GraphQLOperationType
from strawberry.django import views
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from user_messages.graphql_http import (
    CSRF_REFUSAL,
    LEGACY_JSON,
    NESTED_TOO_DEEPLY,
    RequestRefused,
    check_parameters,
    content_type,
    csrf_refusal,
    decode_json_parameter,
    is_request_error,
    log_security_error,
    media_type,
    operations_allowed,
    refuse_declared_excess,
    refuse_over_get,
    status_for,
)
from user_messages.strawberry.extensions import quiet_client_mistakes

__all__ = ["AsyncGraphQLView", "GraphQLView"]


class _PackageRules:
    """What both views do the same way: parameters, refusals, media type and status code."""

    media = LEGACY_JSON
    schema: Any

    def _json(self, answer: Any, status: int) -> HttpResponse:
        return JsonResponse(answer, status=status, content_type=content_type(self.media))

    def _refusal(self, request: HttpRequest, error: HTTPException) -> HttpResponse:
        """Strawberry's plain-text refusal as a JSON error."""
        response = self._json({"errors": [{"message": error.reason}]}, error.status_code)
        if error.status_code == 405:
            # A mutation over GET may be POSTed; other methods may be neither.
            response["Allow"] = "POST" if request.method == "GET" else "GET, POST"
        return response

    def _parameters(self, django_request: HttpRequest) -> GraphQLRequestData:
        """The request's GraphQL parameters, read as graphene-django reads them.

        The same bodies (JSON, ``application/graphql``, form and multipart fields), the query
        string's parameters first, ``variables`` as an object or as JSON text, and the same
        refusals; a refused body raises HTTPException.
        """
        with _body_refusals(django_request):
            refuse_declared_excess(django_request)
            data = _body_parameters(django_request)
            return _graphql_parameters(django_request, data)

    def _execute_arguments(self, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The method and what ``schema.execute`` takes, with the package's rules for methods."""
        request_data: GraphQLRequestData = kwargs["request_data"]
        method = kwargs["request_adapter"].method
        allowed = {OperationType(operation.value) for operation in operations_allowed(method)}
        return method, {
            "query": request_data.query,
            "root_value": kwargs["root_value"],
            "variable_values": request_data.variables,
            "context_value": kwargs["context"],
            "operation_name": request_data.operation_name,
            "allowed_operation_types": allowed,
            "operation_extensions": request_data.extensions,
        }

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: HttpResponse,
    ) -> HttpResponseBase:
        """The result in the negotiated media type: a request error has no ``data``."""
        response: HttpResponseBase = super().create_response(  # type: ignore[misc]
            self._graphql_answer(response_data, sub_response), sub_response
        )
        response["Content-Type"] = content_type(self.media)
        return response

    def _graphql_answer(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Any
    ) -> GraphQLHTTPResponse | list[GraphQLHTTPResponse]:
        """The answer to send, its status set on ``sub_response`` (GraphQL over HTTP)."""
        if isinstance(response_data, dict):
            errors: list[dict[str, Any]] = response_data.get("errors") or []  # type: ignore[assignment]
            request_error = is_request_error(errors)
            if request_error:
                response_data = {"errors": errors}  # type: ignore[assignment]
            sub_response.status_code = status_for(self.media, request_error=request_error)
        return response_data


@contextlib.contextmanager
def _body_refusals(request: HttpRequest) -> Iterator[None]:
    """Django's refusals of a body it reads, as HTTPException: 413 or 400, never a 500."""
    try:
        yield
    except RequestDataTooBig as error:
        log_security_error(request, error, status=413)
        raise HTTPException(413, "The request body is larger than the server accepts.") from None
    except SuspiciousOperation as error:
        log_security_error(request, error, status=400)
        raise HTTPException(400, "The request body is refused.") from None
    except RecursionError:
        raise HTTPException(400, NESTED_TOO_DEEPLY) from None
    except (UnicodeDecodeError, MultiPartParserError):
        raise HTTPException(400, "The request body cannot be decoded.") from None


@contextlib.contextmanager
def _execution_refusals(method: str) -> Iterator[None]:
    """Strawberry's refusals to execute, as the package words and codes them."""
    try:
        yield
    except InvalidOperationTypeError as error:
        try:
            refuse_over_get(method, GraphQLOperationType(error.operation_type.value))
        except RequestRefused as refused:
            raise HTTPException(refused.status, refused.message) from None
        raise
    except CannotGetOperationTypeError as error:
        raise HTTPException(400, error.as_http_error_reason()) from None
    except MissingQueryError:
        raise HTTPException(400, "Must provide query string.") from None


class GraphQLView(_PackageRules, views.GraphQLView):
    """Mount at ``/graphql``: ``GraphQLView.as_view(schema=schema)``.

    Add ``user_messages.strawberry.QueryLimits`` to the schema's extensions: the view bounds
    the request, the extension the document.
    """

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """The view function; the CSRF middleware leaves its check to ``dispatch``."""
        view = super().as_view(**initkwargs)
        view.csrf_exempt = True  # type: ignore[attr-defined]
        return view

    # As graphene-django's view: any answer sets the csrftoken cookie an SPA echoes in its POSTs.
    @method_decorator(ensure_csrf_cookie)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Run the request; Strawberry's plain-text refusals become JSON errors."""
        self.media = media_type(request.headers.get("Accept"))
        if csrf_refusal(request):
            return self._json(CSRF_REFUSAL, status=403)
        try:
            with quiet_client_mistakes():
                return self.run(request=request)
        except HTTPException as error:
            return self._refusal(request, error)

    def parse_http_body(
        self, request: SyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's GraphQL parameters (see ``_parameters``)."""
        return self._parameters(request.request)  # type: ignore[attr-defined]

    def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Execute one operation as Strawberry does, with the package's rules for methods."""
        method, arguments = self._execute_arguments(kwargs)
        with _execution_refusals(method):
            result: ExecutionResult = self.schema.execute_sync(**arguments)
        return result


class AsyncGraphQLView(_PackageRules, views.AsyncGraphQLView):
    """``GraphQLView`` for async projects: ``AsyncGraphQLView.as_view(schema=schema)``.

    The same rules and answers as ``GraphQLView``; the package's resolvers run their database
    work in a thread (one per resolver), the rest of the request on the event loop.
    """

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """The view function; the CSRF middleware leaves its check to ``dispatch``."""
        view = super().as_view(**initkwargs)
        view.csrf_exempt = True  # type: ignore[attr-defined]
        return view

    async def dispatch(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        """Run the request; Strawberry's plain-text refusals become JSON errors."""
        self.media = media_type(request.headers.get("Accept"))
        # No database here, even with CSRF_USE_SESSIONS: the check runs only where the project
        # installs the CSRF middleware, whose process_request has loaded the session already.
        if csrf_refusal(request):
            response: HttpResponseBase = self._json(CSRF_REFUSAL, status=403)
        else:
            try:
                with quiet_client_mistakes():
                    response = await self.run(request=request)
            except HTTPException as error:
                response = self._refusal(request, error)
        # As the sync view: any answer sets the csrftoken cookie.
        set_cookie: Callable[[HttpRequest], HttpResponseBase] = ensure_csrf_cookie(
            lambda request: response
        )
        if settings.CSRF_USE_SESSIONS:
            # Without the CSRF middleware nothing has loaded the session yet: off the loop.
            return await sync_to_async(set_cookie)(request)
        return set_cookie(request)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's GraphQL parameters (see ``_parameters``).

        ASGI has read the body before the view runs: nothing here waits.
        """
        return self._parameters(request.request)  # type: ignore[attr-defined]

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Execute one operation as Strawberry does, with the package's rules for methods."""
        method, arguments = self._execute_arguments(kwargs)
        with _execution_refusals(method):
            result: ExecutionResult = await self.schema.execute(**arguments)
        return result


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
    try:
        variables = decode_json_parameter(
            request.GET.get("variables") or data.get("variables"), "variables"
        )
        operation_name = request.GET.get("operationName") or data.get("operationName")
        if operation_name == "null":
            operation_name = None
        extensions = data.get("extensions")
        check_parameters(query, variables, operation_name, extensions)
    except RequestRefused as refused:
        raise HTTPException(refused.status, refused.message) from None
    return GraphQLRequestData(
        query=query, variables=variables, operation_name=operation_name, extensions=extensions
    )
