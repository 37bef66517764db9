"""URLs on Strawberry: a page that shows messages, the admin, the GraphQL API and GraphiQL."""

from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

from mysite.schema import schema
from user_messages.graphiql import GraphiQLView
from user_messages.strawberry import GraphQLView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html")),
    path("admin/", admin.site.urls),
    # Keep CSRF protection: never wrap the view in csrf_exempt. graphql_ide=None: Strawberry's
    # own GraphiQL loads from a CDN; the package's, below, works offline.
    path("graphql", GraphQLView.as_view(schema=schema, graphql_ide=None)),
    path("graphiql/", GraphiQLView.as_view(endpoint="/graphql")),
]
