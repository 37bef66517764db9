"""URLs on Strawberry: a page that shows messages, Dismiss, the admin, GraphQL and GraphiQL."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from mysite.schema import schema
from user_messages.graphiql import GraphiQLView
from user_messages.strawberry import GraphQLView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html")),
    # What the Dismiss buttons of user_messages/messages.html post to.
    path("messages/", include("user_messages.urls")),
    path("admin/", admin.site.urls),
    # Keep CSRF protection: never wrap the view in csrf_exempt. graphql_ide=None: Strawberry's
    # own GraphiQL loads from a CDN; the package's, below, works offline.
    path("graphql", GraphQLView.as_view(schema=schema, graphql_ide=None)),
    path("graphiql/", GraphiQLView.as_view(endpoint="/graphql")),
]
