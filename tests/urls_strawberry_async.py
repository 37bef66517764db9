"""tests/urls_strawberry.py with the package's async Strawberry view at /graphql."""

import strawberry.django.views
from django.urls import path

from tests.strawberry_schema import plain_schema, schema
from tests.urls_strawberry import urlpatterns as sync_urlpatterns
from user_messages.strawberry import AsyncGraphQLView

urlpatterns = [
    *(pattern for pattern in sync_urlpatterns if getattr(pattern, "name", None) != "graphql"),
    path("graphql", AsyncGraphQLView.as_view(schema=schema, graphql_ide=None), name="graphql"),
    # Strawberry's own async view, as a host that keeps it has.
    path(
        "graphql-plain-async",
        strawberry.django.views.AsyncGraphQLView.as_view(schema=plain_schema, graphql_ide=None),
        name="graphql_plain_async",
    ),
]
