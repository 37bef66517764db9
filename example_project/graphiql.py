"""GraphiQL that works offline: graphene-django's page, its scripts served from static files."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from user_messages.views import GraphQLView


class OfflineGraphQLView(GraphQLView):
    """The package's GraphQLView (limits on) whose GraphiQL loads its scripts from this project.

    The files in static/example_project/graphiql/ are the versions the view names, so the page
    keeps the integrity hashes graphene-django pins for them.
    """

    graphiql_template = "example_project/graphiql.html"

    def render_graphiql(self, request: HttpRequest, **data: Any) -> HttpResponse:
        """Render GraphiQL with graphene-django's settings passed to its script as JSON."""
        page_settings = {
            "graphiqlHeaderEditorEnabled": bool(data.get("graphiql_header_editor_enabled")),
            "graphiqlShouldPersistHeaders": bool(data.get("graphiql_should_persist_headers")),
            "graphiqlInputValueDeprecation": bool(data.get("graphiql_input_value_deprecation")),
        }
        if data.get("subscription_path"):
            page_settings["subscriptionPath"] = data["subscription_path"]
        return super().render_graphiql(request, graphene_settings=page_settings, **data)


def strawberry_view(**options: Any) -> Any:
    """The package's Strawberry view for /graphql, with the same offline GraphiQL page.

    GraphiQL is only a page that posts to /graphql, so graphene-django's page serves the
    Strawberry stack unchanged (the demo installs both; a Strawberry project needs no graphene).
    """
    from example_project.strawberry_schema import schema
    from user_messages.strawberry import GraphQLView as StrawberryGraphQLView

    page = OfflineGraphQLView.as_view(graphiql=True)

    class OfflineStrawberryView(StrawberryGraphQLView):
        def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
            return page(request)  # type: ignore[no-any-return]

    return OfflineStrawberryView.as_view(schema=schema, **options)
