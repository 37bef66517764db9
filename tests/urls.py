from django.contrib import admin
from django.urls import path
from graphene_django.views import GraphQLView

from tests import custom_admin, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("people-admin/", custom_admin.site.urls),
    path("messages/", views.messages_page, name="messages_page"),
    # Not csrf_exempt: the API keeps Django's CSRF protection, as a host project should.
    path("graphql", GraphQLView.as_view(graphiql=False), name="graphql"),
]
