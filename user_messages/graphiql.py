"""GraphiQL that works offline, for either GraphQL stack: every file comes from the package.

graphene-django's and Strawberry's own GraphiQL pages load React and GraphiQL from a CDN, so
without internet they are blank. This page loads the same libraries from the package's static
files (``user_messages/static/user_messages/graphiql/``), sends queries and mutations as POST
with Django's CSRF token, and subscriptions over graphql-transport-ws to the same path.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.response import TemplateResponse
from django.views import View

__all__ = ["GraphiQLView", "render_graphiql"]

TEMPLATE = "user_messages/graphiql.html"


def render_graphiql(
    request: HttpRequest, *, endpoint: str, subscription_endpoint: str | None = None
) -> HttpResponse:
    """The GraphiQL page for the GraphQL API at ``endpoint`` (a path or URL).

    ``subscription_endpoint`` is where its WebSocket connects (default: ``endpoint``, as
    ``ws://`` or ``wss://``).
    """
    page_settings = {
        "endpoint": endpoint,
        "subscriptionEndpoint": subscription_endpoint or endpoint,
        "csrfHeader": _csrf_header(),
        # Also sets the csrftoken cookie, so the page works on a first visit.
        "csrfToken": get_token(request),
    }
    return TemplateResponse(request, TEMPLATE, {"graphiql_settings": page_settings})


class GraphiQLView(View):
    """A page with GraphiQL for the API at ``endpoint`` (default ``/graphql``), offline.

    ``path("graphiql/", GraphiQLView.as_view(endpoint="/graphql"))``. It works with either
    GraphQL stack; the page itself reveals nothing, the API still checks who asks.
    """

    endpoint: str = "/graphql"
    subscription_endpoint: str | None = None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Render the page."""
        return render_graphiql(
            request, endpoint=self.endpoint, subscription_endpoint=self.subscription_endpoint
        )


def _csrf_header() -> str:
    # Django's setting names the WSGI key ("HTTP_X_CSRFTOKEN"); the browser sends the header.
    name: str = settings.CSRF_HEADER_NAME
    if name.startswith("HTTP_"):
        name = name[len("HTTP_") :]
    return name.replace("_", "-")
