"""graphene-django's ``GraphQLView`` with every per-request cost bounded: a drop-in replacement.

Only projects that install the ``graphql`` extra import this module.
"""

# graphene-django ships no type information, so its view is Any to mypy.
# mypy: disallow-subclassing-any=False

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError
from graphene_django import views
from graphql import ExecutionResult, GraphQLError, parse
from graphql.validation import ASTValidationRule

from user_messages.conf import conf
from user_messages.graphql_limits import validation_rules

__all__ = ["GraphQLView"]

NESTED_TOO_DEEPLY = "The request is nested too deeply."


class GraphQLView(views.GraphQLView):
    """graphene-django's view that refuses what would cost a request unbounded work.

    - The parser stops after ``USER_MESSAGES["MAX_QUERY_TOKENS"]`` tokens (comments count).
    - Validation runs GraphQL's specified rules, the depth and fields limits of
      ``user_messages.graphql_limits``, then any ``validation_rules`` you pass: they add to the
      specified rules instead of replacing them, as they would in graphene-django's view.
    - A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets 413, a body nested too deeply for
      Python's JSON parser, undecodable text or a broken multipart body gets 400; all answer
      ``{"errors": [{"message": ...}]}`` like graphene-django's own refusals.

    CSRF protection stays as it is: do not wrap the view in ``csrf_exempt``.
    """

    validation_rules: Collection[type[ASTValidationRule]] | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django builds a view instance per request, so the settings are read per request.
        self.validation_rules = tuple(
            dict.fromkeys((*validation_rules(), *(self.validation_rules or ())))
        )

    def parse_body(self, request: HttpRequest) -> Any:
        """The request's GraphQL parameters; a refused body raises graphene-django's HttpError."""
        try:
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
        """Run the request after the parser has counted the query's tokens."""
        if isinstance(query, str):
            # graphene-django parses without a token limit, so parse once with one first:
            # an oversized document stops here after MAX_QUERY_TOKENS tokens.
            try:
                parse(query, no_location=True, max_tokens=conf.MAX_QUERY_TOKENS)
            except GraphQLError as error:
                return ExecutionResult(errors=[error])
            except RecursionError:
                # Older graphql-core releases let the parser overflow the stack on deep nesting.
                return ExecutionResult(errors=[GraphQLError(NESTED_TOO_DEEPLY)])
        try:
            result: ExecutionResult | None = super().execute_graphql_request(
                request, data, query, variables, operation_name, show_graphiql
            )
        except RecursionError:
            # Validation runs outside graphene-django's try; older graphql-core may overflow there.
            return ExecutionResult(errors=[GraphQLError(NESTED_TOO_DEEPLY)])
        return result


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
