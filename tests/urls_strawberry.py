"""tests/urls.py with the Strawberry stack at /graphql and /graphql-plain (the `stack` fixture)."""

import strawberry.django.views
from django.urls import path

from tests.strawberry_schema import plain_schema, schema
from tests.urls import urlpatterns as graphene_urlpatterns
from user_messages.strawberry import GraphQLView

STACK_PATHS = {"graphql", "graphql_plain"}

urlpatterns = [
    *(
        pattern
        for pattern in graphene_urlpatterns
        if getattr(pattern, "name", None) not in STACK_PATHS
    ),
    # Not csrf_exempt: the API keeps Django's CSRF protection, as a host project should.
    path("graphql", GraphQLView.as_view(schema=schema, graphql_ide=None), name="graphql"),
    # Strawberry's own view, as a host that keeps it has: the package's rules must hold there.
    path(
        "graphql-plain",
        strawberry.django.views.GraphQLView.as_view(schema=plain_schema, graphql_ide=None),
        name="graphql_plain",
    ),
]
