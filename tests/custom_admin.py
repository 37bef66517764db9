"""A project's own user admin on its own admin site, adding the send action as the README says."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model

from user_messages.admin import send_message


class PeopleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["username", "email"]
    actions = [send_message]


site = admin.AdminSite(name="people_admin")
site.register(get_user_model(), PeopleAdmin)
