from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from user_messages.models import Message
from user_messages.signals import changed_after_commit


class DeliveredFilter(admin.SimpleListFilter):
    title = _("delivered")
    parameter_name = "delivered"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "yes":
            return queryset.filter(delivered_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(delivered_at__isnull=True)
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "created_at",
        "delivered_at",
        "user",
        "level",
        "message",
        "deliver_once",
        "expires_at",
    ]
    list_filter = ["level", DeliveredFilter, "deliver_once"]
    list_select_related = ["user"]
    ordering = ["-created_at", "-pk"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    actions = ["mark_delivered"]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        # The user model may be swapped; search it by whatever identifies its users.
        return ["message", f"user__{get_user_model().USERNAME_FIELD}"]

    @admin.action(description=_("Mark selected messages as delivered"))
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        user_ids = list(queryset.pending().values_list("user_id", flat=True).distinct())  # type: ignore[attr-defined]
        count = queryset.mark_delivered(timezone.now())  # type: ignore[attr-defined]
        changed_after_commit(user_ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d message was marked as delivered.",
                "%(count)d messages were marked as delivered.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        user_ids = [obj.user_id]
        if change and "user" in form.changed_data:
            # Moved to another user: the former recipient's count changed too.
            user_ids.append(form.initial["user"])
        changed_after_commit(user_ids)

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        super().delete_model(request, obj)
        changed_after_commit([obj.user_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        user_ids = list(queryset.values_list("user_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        changed_after_commit(user_ids)
