"""GraphQL over HTTP on Channels: Strawberry's ``GraphQLHTTPConsumer`` with the views' rules.

For a project that routes HTTP through Channels' ``ProtocolTypeRouter`` to the consumer rather
than to Django's view. Django's request cycle does not run there: no middleware, no request
signals. The consumer does what the package's views rely on it for, with Django's own code:

- the Django request is built from the scope (``ASGIRequest``), with the ``user`` and the
  ``session`` that Channels' ``AuthMiddlewareStack`` puts there; without them the consumer
  raises ``ImproperlyConfigured`` rather than serve every request as signed out;
- a Host outside ``ALLOWED_HOSTS`` gets 400, as Django answers;
- the CSRF check of the project's ``CsrfViewMiddleware`` (Django's when MIDDLEWARE lists none:
  the session cookie authenticates these requests, so the check is never skipped), refused
  with 403 ``CSRF_FAILED``; every answer sets the csrftoken cookie, as the views' do;
- Django's messages, through the project's ``MessageMiddleware`` when MIDDLEWARE lists it, so
  ``myMessages`` returns and consumes session messages as the views do;
- ``request_started`` and ``request_finished`` sent around each request, so that Django closes
  the database connections a request leaves (``CONN_MAX_AGE``) as after a view;
- a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` refused with 413 as it arrives: Channels would
  otherwise hold all of it in memory.

Then the same parameters, limits, GET rules, media types and status codes as the views, by the
same code (``user_messages.strawberry.views``). The database work of a request runs in
Channels' one thread-sensitive thread, as every Channels consumer's does.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.exceptions import StopConsumer
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.core import signals
from django.core.exceptions import DisallowedHost, ImproperlyConfigured, RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token
from strawberry.channels import GraphQLHTTPConsumer as StrawberryGraphQLHTTPConsumer
from strawberry.channels.handlers.http_handler import ChannelsRequest
from strawberry.django.views import TemporalHttpResponse
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from user_messages.graphql_http import (
    CSRF_REFUSAL,
    csrf_check_refuses,
    log_security_error,
    media_type,
    project_middleware,
)
from user_messages.strawberry.extensions import quiet_client_mistakes
from user_messages.strawberry.views import _body_refusals, _execution_refusals, _PackageRules

__all__ = ["GraphQLHTTPConsumer", "http_consumer"]

TOO_LARGE = "The request body is larger than the server accepts."
HOST_NOT_ALLOWED = "The request's Host header is not one this site serves."
NO_AUTH_MIDDLEWARE = (
    "user_messages.strawberry.GraphQLHTTPConsumer needs the user and the session in its scope: "
    "route it behind Channels' AuthMiddlewareStack (http_consumer(schema) does), or every "
    "request would be served as signed out and without its CSRF token."
)


class GraphQLHTTPConsumer(_PackageRules, StrawberryGraphQLHTTPConsumer):
    """Route behind ``AuthMiddlewareStack``: ``http_consumer(schema)`` builds both.

    ``info.context`` is Strawberry's dict: ``"request"`` the Django request (its ``consumer``
    is this consumer, ``consumer.scope`` the scope) and ``"response"`` the response to be.
    """

    _django_request: HttpRequest
    _received = 0

    async def http_request(self, message: dict[str, Any]) -> None:
        """Collect the body as Channels does, and refuse it once it is over the upload limit."""
        body = message.get("body", b"")
        self._received += len(body)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and self._received > limit:
            # Channels holds a body in memory until its end: stop reading at the limit.
            request = self._request(b"")
            log_security_error(
                request,
                RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."),
                status=413,
            )
            self.media = media_type(request.headers.get("Accept"))
            await self._send(self._json({"errors": [{"message": TOO_LARGE}]}, status=413))
            raise StopConsumer
        await super().http_request(message)

    async def handle(self, body: bytes) -> None:
        """Answer one request as the package's views do (see the module's docstring)."""
        request = self._django_request = self._request(body)
        self.media = media_type(request.headers.get("Accept"))
        try:
            response = await sync_to_async(self._before)(request)
            if response is None:
                try:
                    with quiet_client_mistakes():
                        # What the methods below make: a Django response.
                        answered: Any = await self.run(ChannelsRequest(consumer=self, body=body))
                    response = answered
                except HTTPException as error:
                    response = self._refusal(request, error)
            response = await sync_to_async(self._after)(request, response)
        finally:
            # Django's handler sends it as the response closes: old connections are closed.
            await sync_to_async(signals.request_finished.send)(sender=self.__class__)
        await self._send(response)

    def _request(self, body: bytes) -> HttpRequest:
        """The Django request of the scope, with the scope's user and session."""
        missing = [key for key in ("session", "user") if key not in self.scope]
        if missing:
            raise ImproperlyConfigured(NO_AUTH_MIDDLEWARE)
        request = ASGIRequest(self.scope, io.BytesIO(body))
        request.session = self.scope["session"]
        request.user = self.scope["user"]
        request.consumer = self  # type: ignore[attr-defined]
        return request

    def _before(self, request: HttpRequest) -> HttpResponseBase | None:
        """What Django and the project's middleware do before a view; a refusal, or None."""
        signals.request_started.send(sender=self.__class__, scope=self.scope)
        try:
            request.get_host()
        except DisallowedHost as error:
            log_security_error(request, error, status=400)
            return self._json({"errors": [{"message": HOST_NOT_ALLOWED}]}, status=400)
        csrf = project_middleware(CsrfViewMiddleware) or CsrfViewMiddleware
        try:
            # Django's check reads a POST form's csrfmiddlewaretoken field: a body it cannot
            # parse gets the answer the views give it.
            with _body_refusals(request):
                refused = csrf_check_refuses(csrf(_unused), request)
        except HTTPException as error:
            return self._refusal(request, error)
        if refused:
            return self._json(CSRF_REFUSAL, status=403)
        messages = project_middleware(MessageMiddleware)
        if messages is not None:
            messages(_unused).process_request(request)
        return None

    def _after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """What the project's middleware does after a view: messages kept, the CSRF cookie."""
        messages = project_middleware(MessageMiddleware)
        if messages is not None and hasattr(request, "_messages"):
            response = messages(_unused).process_response(request, response)  # type: ignore[arg-type]
        # As the views' ensure_csrf_cookie: any answer sets the cookie an SPA echoes.
        get_token(request)
        csrf = project_middleware(CsrfViewMiddleware) or CsrfViewMiddleware
        return csrf(_unused).process_response(request, response)

    async def _send(self, response: HttpResponseBase) -> None:
        """Send a Django response as Django's ASGI handler does, cookies included."""
        headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
        ]
        headers += [
            (b"Set-Cookie", cookie.output(header="").strip().encode("ascii"))
            for cookie in response.cookies.values()
        ]
        if isinstance(response, StreamingHttpResponse):
            await self.send_headers(status=response.status_code, headers=headers)
            async for chunk in response:
                await self.send_body(chunk, more_body=True)
            await self.send_body(b"")
            return
        assert isinstance(response, HttpResponse)
        await self.send_response(response.status_code, response.content, headers=headers)

    # What Strawberry's run() calls: Django's objects, as in its Django views.

    async def get_context(self, request: Any, response: Any) -> Any:
        """Strawberry's context, with the Django request (``request.consumer`` is this)."""
        return {"request": self._django_request, "response": response}

    async def get_sub_response(self, request: Any) -> TemporalHttpResponse:  # type: ignore[override]
        """What resolvers set headers, cookies and a status on, as in the Django views."""
        return TemporalHttpResponse()

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's GraphQL parameters, read as the views read them."""
        return self._parameters(self._django_request)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Execute one operation as Strawberry does, with the package's rules for methods."""
        method, arguments = self._execute_arguments(kwargs)
        with _execution_refusals(method):
            result: ExecutionResult = await self.schema.execute(**arguments)
        return result

    def create_response(  # type: ignore[override]
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: TemporalHttpResponse,
    ) -> HttpResponseBase:
        """The result in the negotiated media type, with what the resolvers set."""
        answer = self._graphql_answer(response_data, sub_response)
        response = self._json(answer, status=sub_response.status_code or 200)
        for name, value in sub_response.items():
            if name.lower() != "content-type":
                response[name] = value
        for name, cookie in sub_response.cookies.items():
            response.cookies[name] = cookie
        return response

    async def create_streaming_response(  # type: ignore[override]
        self,
        request: Any,
        stream: Callable[[], AsyncIterator[Any]],
        sub_response: TemporalHttpResponse,
        headers: Mapping[str, str],
    ) -> HttpResponseBase:
        """A multipart answer (a subscription over HTTP), as the Django views stream it."""
        return StreamingHttpResponse(
            streaming_content=stream(),
            status=sub_response.status_code,
            headers={**sub_response.headers, **headers},
        )

    async def render_graphql_ide(self, request: Any) -> HttpResponse:  # type: ignore[override]
        """GraphiQL, when the consumer was given ``graphql_ide``."""
        return HttpResponse(self.graphql_ide_html, content_type="text/html; charset=utf-8")

    def encode_json(self, data: object) -> str:
        """JSON as the Django views encode it."""
        return DjangoJSONEncoder(separators=(",", ":")).encode(data)


def _unused(request: HttpRequest) -> HttpResponse:
    """Stands for the rest of the chain in a middleware used for its hooks; never called."""
    raise NotImplementedError


def http_consumer(schema: Any, **options: Any) -> Any:
    """The consumer for ``schema`` behind ``AuthMiddlewareStack``, for an ``"http"`` route."""
    return AuthMiddlewareStack(GraphQLHTTPConsumer.as_asgi(schema=schema, **options))
