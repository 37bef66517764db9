from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from example_project import views
from example_project.graphiql import OfflineGraphQLView, strawberry_view

# GRAPHQL_STACK=strawberry bash example_project/start.sh: the same API from Strawberry.
if settings.GRAPHQL_STACK == "strawberry":
    graphql_view = strawberry_view(graphql_ide="graphiql" if settings.DEBUG else None)
else:
    graphql_view = OfflineGraphQLView.as_view(graphiql=settings.DEBUG)

urlpatterns = [
    path("", views.classic, name="classic"),
    path("send/", views.send, name="send"),
    # Dismiss and archive from the classic page (the package's POST-only views).
    path("messages/", include("user_messages.urls")),
    path("spa/", views.spa, name="spa"),
    re_path(
        r"^spa/operations/(?P<name>[A-Za-z][A-Za-z0-9]*)\.graphql$",
        views.operation,
        name="operation",
    ),
    # Not csrf_exempt: a session-authenticated API must check the token; the SPA sends it.
    # The package's view (via GraphiQL-offline subclass) bounds tokens, depth and fields and
    # refuses broken bodies with a 4xx.
    path("graphql", graphql_view, name="graphql"),
    # An async view calling the async API (served as such under ASGI).
    path("inbox.json", views.inbox, name="inbox"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says; send them to the static icon.
    path("favicon.ico", RedirectView.as_view(url=static("example_project/favicon.svg"))),
]
