"""URLs of the views server-rendered pages post to: ``path("messages/", include(...))``."""

from __future__ import annotations

from django.urls import path

from user_messages import dismiss

app_name = "user_messages"

urlpatterns = [
    # Any text up to the next slash: an id no message can have is answered as an unknown one
    # (the view checks it), not with a 404 that would tell malformed ids from unknown ones.
    path("<str:message_id>/acknowledge/", dismiss.AcknowledgeView.as_view(), name="acknowledge"),
    path("<str:message_id>/archive/", dismiss.ArchiveView.as_view(), name="archive"),
    path("acknowledge-all/", dismiss.AcknowledgeAllView.as_view(), name="acknowledge_all"),
]
