"""GraphiQL at /graphql itself, offline: the package's page in place of each stack's CDN page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from user_messages.graphiql import render_graphiql
from user_messages.views import GraphQLView


class OfflineGraphQLView(GraphQLView):
    """The package's graphene view whose GraphiQL (a GET from a browser) is the package's page."""

    def render_graphiql(self, request: HttpRequest, **data: Any) -> HttpResponse:
        """The package's offline GraphiQL, posting to this very path."""
        return render_graphiql(request, endpoint=request.path)


def strawberry_view(**options: Any) -> Any:
    """The package's Strawberry view for /graphql, with the same offline GraphiQL page."""
    from example_project.strawberry_schema import schema
    from user_messages.strawberry import GraphQLView as StrawberryGraphQLView

    class OfflineStrawberryView(StrawberryGraphQLView):
        def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
            return render_graphiql(request, endpoint=request.path)

    return OfflineStrawberryView.as_view(schema=schema, **options)
