"""The example's URLs plus /graphql from each GraphQL stack, for `bench` to time them in turns."""

from __future__ import annotations

from django.urls import path

from example_project.graphiql import OfflineGraphQLView, strawberry_view
from example_project.urls import urlpatterns as example_urlpatterns

urlpatterns = [
    *example_urlpatterns,
    path("graphql-graphene", OfflineGraphQLView.as_view(graphiql=False)),
    path("graphql-strawberry", strawberry_view(graphql_ide=None)),
]
