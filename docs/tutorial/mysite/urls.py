"""The tutorial's URLs: a page that shows messages, Dismiss, the admin, GraphQL and GraphiQL."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from user_messages.graphiql import GraphiQLView
from user_messages.views import GraphQLView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html")),
    # What the Dismiss buttons of user_messages/messages.html post to.
    path("messages/", include("user_messages.urls")),
    path("admin/", admin.site.urls),
    # Keep CSRF protection: never wrap the view in csrf_exempt.
    path("graphql", GraphQLView.as_view()),
    # GraphiQL from the package's static files: it works without internet.
    path("graphiql/", GraphiQLView.as_view(endpoint="/graphql")),
]
