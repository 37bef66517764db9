"""A project's own user admins on their own admin sites, adding the send action.

``site`` is what the README says; ``plain_site`` lists the action without
``SendMessageAdminMixin``, as the README said before 2.0: that line must keep working.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model

from user_messages.admin import MessagePreferenceInline, SendMessageAdminMixin, send_message


class PeopleAdmin(SendMessageAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["username", "email"]
    actions = [send_message]
    fields = ["username", "email"]
    inlines = [MessagePreferenceInline]


site = admin.AdminSite(name="people_admin")
site.register(get_user_model(), PeopleAdmin)


class PlainPeopleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["username", "email"]
    actions = [send_message]


plain_site = admin.AdminSite(name="plain_people_admin")
plain_site.register(get_user_model(), PlainPeopleAdmin)
