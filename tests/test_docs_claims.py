"""What the docs say about reading, checked where it is not a snippet of theirs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from user_messages import api
from user_messages.models import Message


@pytest.mark.django_db
def test_an_admin_page_shows_and_consumes_deliver_once_messages(client: Client) -> None:
    staff = get_user_model().objects.create_superuser("root", password="root")
    once = api.info(staff, "Shown on whatever page renders messages first.")
    sticky = api.warning(staff, "Stays until acknowledged.", deliver_once=False)
    client.force_login(staff)

    first = client.get("/admin/").content.decode()
    second = client.get("/admin/").content.decode()

    # docs/howto/templates.md: "Any page that renders messages ... the admin's pages included".
    assert "Shown on whatever page renders messages first." in first
    assert "Shown on whatever page renders messages first." not in second
    assert "Stays until acknowledged." in second
    assert Message.objects.get(pk=once.pk).delivered_at is not None
    assert Message.objects.get(pk=sticky.pk).delivered_at is None
