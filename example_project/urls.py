from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from example_project import views
from user_messages.views import GraphQLView

urlpatterns = [
    path("", views.classic, name="classic"),
    path("send/", views.send, name="send"),
    path("messages/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("spa/", views.spa, name="spa"),
    re_path(
        r"^spa/operations/(?P<name>[A-Za-z][A-Za-z0-9]*)\.graphql$",
        views.operation,
        name="operation",
    ),
    # Not csrf_exempt: a session-authenticated API must check the token; the SPA sends it.
    # The package's view bounds tokens, depth, fields and refuses broken bodies with a 4xx.
    path("graphql", GraphQLView.as_view(graphiql=settings.DEBUG), name="graphql"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
