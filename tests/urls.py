import importlib.util

from django.contrib import admin
from django.urls import include, path

from tests import custom_admin, views
from user_messages.graphiql import GraphiQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("people-admin/", custom_admin.site.urls),
    path("plain-people-admin/", custom_admin.plain_site.urls),
    path("messages/", views.messages_page, name="messages_page"),
    # The Dismiss views, mounted as the docs say.
    path("messages/", include("user_messages.urls")),
    # A page of the package's template: {% include "user_messages/messages.html" %}.
    path("page/", views.package_template_page, name="package_template_page"),
    path("graphiql/", GraphiQLView.as_view(), name="graphiql"),
]

# graphene is optional: a Strawberry-only environment runs the suite without it.
if importlib.util.find_spec("graphene_django"):
    import graphene_django.views

    from user_messages.views import GraphQLView

    urlpatterns += [
        # Not csrf_exempt: the API keeps Django's CSRF protection, as a host project should.
        path("graphql", GraphQLView.as_view(graphiql=False), name="graphql"),
        # graphene-django's own view, as a host that keeps it has: the package's rules must
        # hold there too (tests/test_hostile_requests.py).
        path("graphql-plain", graphene_django.views.GraphQLView.as_view(), name="graphql_plain"),
    ]
