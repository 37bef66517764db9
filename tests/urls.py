from django.contrib import admin
from django.urls import path

from tests import views
from user_messages.views import GraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("messages/", views.messages_page, name="messages_page"),
    # Not csrf_exempt: the API keeps Django's CSRF protection, as a host project should.
    path("graphql", GraphQLView.as_view(graphiql=False), name="graphql"),
]
