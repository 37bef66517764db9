"""tests/urls_strawberry.py with the package's async Strawberry view at /graphql."""

from django.urls import path

from tests.strawberry_schema import schema
from tests.urls_strawberry import urlpatterns as sync_urlpatterns
from user_messages.strawberry import AsyncGraphQLView

urlpatterns = [
    *(pattern for pattern in sync_urlpatterns if getattr(pattern, "name", None) != "graphql"),
    path("graphql", AsyncGraphQLView.as_view(schema=schema, graphql_ide=None), name="graphql"),
]
