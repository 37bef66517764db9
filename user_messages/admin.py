"""The admin: messages with named, coloured levels, and an action that sends to selected users."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.contrib.messages import constants
from django.contrib.messages.utils import get_level_tags
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from user_messages import api, validation
from user_messages.categories import declared
from user_messages.conf import conf
from user_messages.links import safe_actions, safe_link
from user_messages.models import Message, MessagePreference, MessageState
from user_messages.signals import changed_after_commit

__all__ = [
    "MessageAdmin",
    "MessagePreferenceAdmin",
    "MessagePreferenceInline",
    "SendMessageAdminMixin",
    "SendMessageForm",
    "category_choices",
    "category_label",
    "level_choices",
    "level_label",
    "send_message",
]

_LEVEL_NAMES = {
    constants.DEBUG: _("Debug"),
    constants.INFO: _("Info"),
    constants.SUCCESS: _("Success"),
    constants.WARNING: _("Warning"),
    constants.ERROR: _("Error"),
}


def level_label(level: int) -> str:
    """A level's name for people: Info, Error ..., or a custom level's tag with its number."""
    if level in _LEVEL_NAMES:
        return str(_LEVEL_NAMES[level])
    tag = get_level_tags().get(level)
    return f"{tag.capitalize()} ({level})" if tag else str(level)


def level_choices(*, include: int | None = None) -> list[tuple[int, str]]:
    """Django's five levels and the custom ones MESSAGE_TAGS names (plus ``include``), sorted."""
    levels = {*_LEVEL_NAMES, *(level for level in get_level_tags() if isinstance(level, int))}
    if include is not None:
        levels.add(include)
    return [(level, level_label(level)) for level in sorted(levels)]


def _colour(level: int) -> str:
    # By number, not by tag: MESSAGE_TAGS may rename tags (Bootstrap's "danger"), and a custom
    # level takes the colour of the standard level just below it.
    for bound, name in (
        (constants.ERROR, "error"),
        (constants.WARNING, "warning"),
        (constants.SUCCESS, "success"),
        (constants.INFO, "info"),
    ):
        if level >= bound:
            return name
    return "debug"


def category_label(name: str) -> str:
    """A category's label for people; "" is none, an undeclared name shows as it is."""
    if not name:
        return gettext("None")
    category = declared().get(name)
    return str(category.label) if category is not None else name


def category_choices(*, include: str | None = None) -> list[tuple[str, str]]:
    """None, then the declared categories in the setting's order (plus ``include``)."""
    names = ["", *declared()]
    if include is not None and include not in names:
        names.append(include)  # stored before its declaration was removed: keep it editable
    return [(name, category_label(name)) for name in names]


class CategoryFilter(admin.SimpleListFilter):
    title = _("category")
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # "" would read as "no filter" in the URL: none has a value of its own.
        return [(name or _NO_CATEGORY, label) for name, label in category_choices()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        value = self.value()
        if value is None:
            return queryset
        name = "" if value == _NO_CATEGORY else value
        return queryset.in_categories([name])  # type: ignore[attr-defined,no-any-return]


#: The category filter's value for messages of no category.
_NO_CATEGORY = "-"


class LevelFilter(admin.SimpleListFilter):
    title = _("level")
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(level), label) for level, label in level_choices()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        value = self.value()
        if value is None:
            return queryset
        try:
            level = int(value)
        except ValueError:
            level = None
        # The column is a 32-bit integer; a larger number would crash some drivers. Either way
        # the admin answers with its "invalid filter" redirect, not a server error.
        if level is None or not -(2**31) <= level < 2**31:
            raise IncorrectLookupParameters(f"level={value!r} is not a level.")
        return queryset.filter(level=level)


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


class ArchivedFilter(admin.SimpleListFilter):
    title = _("archived")
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "yes":
            return queryset.archived()  # type: ignore[attr-defined,no-any-return]
        if self.value() == "no":
            return queryset.not_archived()  # type: ignore[attr-defined,no-any-return]
        return queryset


#: Each state in the colour of the level it feels like: pending asks for attention.
_STATE_COLOURS = {
    MessageState.PENDING: "warning",
    MessageState.DELIVERED: "info",
    MessageState.ACKNOWLEDGED: "success",
    MessageState.EXPIRED: "debug",
}


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(state.value, state.label) for state in MessageState]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        value = self.value()
        if value is None:
            return queryset
        try:
            return queryset.with_state(value)  # type: ignore[attr-defined,no-any-return]
        except ValueError:
            raise IncorrectLookupParameters(f"state={value!r} is not a state.") from None


class MessageForm(forms.ModelForm):  # type: ignore[type-arg]
    level = forms.TypedChoiceField(label=_("level"), coerce=int, initial=constants.INFO)

    class Meta:
        model = Message
        fields = [
            "user",
            "level",
            "category",
            "message",
            "extra_tags",
            "meta",
            "deliver_once",
            "expires_at",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A stored custom level MESSAGE_TAGS no longer names stays selectable as it is.
        current = self.instance.level if self.instance.pk is not None else None
        self.fields["level"].choices = level_choices(include=current)  # type: ignore[attr-defined]
        category = self.instance.category if self.instance.pk is not None else None
        self.fields["category"] = forms.ChoiceField(
            label=_("category"),
            choices=category_choices(include=category),
            required=False,
            initial="",
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = MessageForm
    list_display = [
        "created_at",
        "delivered_at",
        "user",
        "level_display",
        "category_display",
        "message",
        "deliver_once",
        "expires_at",
        "state_display",
        "seen_at",
        "acknowledged_at",
        "archived_at",
    ]
    list_filter = [
        StateFilter,
        LevelFilter,
        CategoryFilter,
        DeliveredFilter,
        ArchivedFilter,
        "deliver_once",
    ]
    readonly_fields = [
        "created_at",
        "delivered_at",
        "seen_at",
        "acknowledged_at",
        "archived_at",
        "actions_display",
    ]
    list_select_related = ["user"]
    ordering = ["-created_at", "-pk"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    actions = ["mark_delivered", "archive"]

    class Media:
        css = {"all": ["user_messages/admin.css"]}

    @admin.display(description=_("level"), ordering="level")
    def level_display(self, obj: Message) -> str:
        return format_html(
            '<span class="user-messages-level user-messages-level-{}" title="{}">{}</span>',
            _colour(obj.level),
            obj.level,
            level_label(obj.level),
        )

    @admin.display(description=_("category"), ordering="category")
    def category_display(self, obj: Message) -> str:
        return category_label(obj.category)

    @admin.display(description=_("state"))
    def state_display(self, obj: Message) -> str:
        state = obj.state
        return format_html(
            '<span class="user-messages-level user-messages-level-{}">{}</span>',
            _STATE_COLOURS[state],
            state.label,
        )

    @admin.display(description=_("actions"))
    def actions_display(self, obj: Message) -> str:
        # Only what a reader would be served: links.safe_actions' rule.
        return format_html_join(
            ", ",
            '<a href="{}" rel="noopener noreferrer">{}</a>',
            ((action["url"], action["label"]) for action in safe_actions(obj.actions)),
        ) or str(_("none"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        # The user model may be swapped; search it by whatever identifies its users.
        return ["message", f"user__{get_user_model().USERNAME_FIELD}"]

    @admin.action(description=_("Archive selected messages"))
    def archive(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        """Archive as their users would: out of the inbox, and acknowledged if still pending."""
        user_ids = list(
            queryset.not_archived().values_list("user_id", flat=True).distinct()  # type: ignore[attr-defined]
        )
        count = queryset.archive(timezone.now())  # type: ignore[attr-defined]
        changed_after_commit(user_ids)
        self.message_user(
            request,
            ngettext("%(count)d message was archived.", "%(count)d messages were archived.", count)
            % {"count": count},
            messages.SUCCESS,
        )

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


class MessagePreferenceForm(forms.ModelForm):  # type: ignore[type-arg]
    """A user's choice for one declared category; a critical one cannot be turned off."""

    class Meta:
        model = MessagePreference
        fields = ["user", "category", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.category if self.instance.pk is not None else None
        self.fields["category"] = forms.ChoiceField(
            label=_("category"),
            # "" is no category: nobody can turn it off.
            choices=[c for c in category_choices(include=current) if c[0]],
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        category = declared().get(cleaned.get("category", ""))
        if category is not None and category.critical and cleaned.get("enabled") is False:
            raise ValidationError(
                _("%(category)s is critical: it cannot be turned off."),
                code="critical",
                params={"category": category.label},
            )
        return cleaned


@admin.register(MessagePreference)
class MessagePreferenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Each user's choices that differ from a category's default; staff may change them."""

    form = MessagePreferenceForm
    list_display = ["user", "category_display", "enabled"]
    list_filter = [CategoryFilter, "enabled"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    ordering = ["user", "category"]

    @admin.display(description=_("category"), ordering="category")
    def category_display(self, obj: MessagePreference) -> str:
        return category_label(obj.category)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [f"user__{get_user_model().USERNAME_FIELD}"]


class _PreferenceFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    @classmethod
    def get_default_prefix(cls) -> str:
        # The foreign key has no reverse accessor (related_name="+") to name the prefix after.
        return "message_preferences"


class MessagePreferenceInline(admin.TabularInline):  # type: ignore[type-arg]
    """Add to a user admin's ``inlines`` to show and edit that user's preferences."""

    model = MessagePreference
    form = MessagePreferenceForm
    formset = _PreferenceFormSet
    fields = ["category", "enabled"]
    extra = 0


class SendMessageForm(forms.Form):
    """What staff fill in to send one message to each selected user."""

    level = forms.TypedChoiceField(label=_("Level"), coerce=int, initial=constants.INFO)
    message = forms.CharField(label=_("Message"))  # built in __init__: its limit is a setting
    deliver_once = forms.TypedChoiceField(
        label=_("Show it"),
        choices=[
            ("1", _("once, on the next page they see")),
            ("0", _("until they acknowledge it (sticky)")),
        ],
        coerce=lambda value: value == "1",
        initial="1",
        widget=widgets.AdminRadioSelect(attrs={"class": "radiolist"}),
    )
    link = forms.CharField(
        label=_("Link"),
        required=False,
        max_length=2000,
        widget=widgets.AdminTextInputWidget,
        help_text=_("Optional: an http(s) address or a path on this site, such as /orders/."),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Optional: not shown after this time."),
    )
    action_label = forms.CharField(
        label=_("Button"),
        required=False,
        max_length=validation.MAX_ACTION_LABEL_LENGTH,
        widget=widgets.AdminTextInputWidget,
        help_text=_("Optional: the text of a button shown with the message, such as Pay now."),
    )
    action_url = forms.CharField(
        label=_("Button link"),
        required=False,
        max_length=validation.MAX_ACTION_URL_LENGTH,
        widget=widgets.AdminTextInputWidget,
        help_text=_("The address the button opens: an http(s) address or a path on this site."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = level_choices()  # type: ignore[attr-defined]
        self.fields["message"] = forms.CharField(
            label=_("Message"),
            max_length=conf.MAX_MESSAGE_LENGTH,
            widget=widgets.AdminTextareaWidget(attrs={"rows": 4}),
        )
        choices = category_choices()
        if len(choices) > 1:  # a project that declares no category sees no such field
            self.fields["category"] = forms.ChoiceField(
                label=_("Category"), choices=choices, required=False, initial=""
            )
            # Right after the level, as on the message form.
            self.order_fields(["level", "category"])
        if conf.MAX_ACTIONS < 1:  # buttons turned off: no fields for one
            del self.fields["action_label"], self.fields["action_url"]

    def clean_link(self) -> str:
        """The link, if the page will render it as one (``user_messages.links``' rule)."""
        link: str = self.cleaned_data["link"]
        if link and safe_link(link) != link:
            raise ValidationError(
                _("Enter an http(s) address or a path starting with /."), code="invalid"
            )
        return link

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError(_("Choose a time in the future."), code="invalid")
        return expires_at

    def clean(self) -> dict[str, Any]:
        """The button as ``actions``: both fields or neither, checked by the API's own rule."""
        data = super().clean() or {}
        label, url = data.get("action_label", ""), data.get("action_url", "")
        data["actions"] = []
        if label or url:
            if not label:
                self.add_error("action_label", _("Give the button a text, or clear its link."))
            elif not url:
                self.add_error("action_url", _("Give the button a link, or clear its text."))
            else:
                try:
                    data["actions"] = validation.actions([{"label": label, "url": url}])
                except validation.InvalidInput as error:
                    field = (
                        "action_url" if str(error).startswith("An action's url") else "action_label"
                    )
                    self.add_error(field, str(error))
        return data


@admin.action(description=_("Send a message to the selected users"))
def send_message(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    """Admin action for a user changelist: a form, then one message per selected user."""
    permission = conf.SEND_PERMISSION
    # SendMessageAdminMixin hides the action from these staff; a forged POST still ends here,
    # as does any POST on an admin that lists the action without the mixin.
    if not request.user.has_perm(permission):
        modeladmin.message_user(
            request,
            gettext("You need the permission %(permission)s to send messages.")
            % {"permission": permission},
            messages.ERROR,
        )
        return None
    if "send" in request.POST:
        form = SendMessageForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            # Ticked rows are few: name them, so that only their users' cached state and live
            # connections hear of the change. "Select all" may be every user: a QuerySet
            # broadcast, one INSERT ... SELECT, announced to everyone.
            recipients: Any = (
                queryset
                if request.POST.get("select_across") == "1"
                else list(queryset.values_list("pk", flat=True))
            )
            count = api.add_message(
                recipients,
                data["level"],
                data["message"],
                deliver_once=data["deliver_once"],
                meta={"url": data["link"]} if data["link"] else {},
                expires_at=data["expires_at"],
                category=data.get("category", ""),
                actions=data["actions"],
            )
            modeladmin.message_user(
                request,
                ngettext("%(count)d message was stored.", "%(count)d messages were stored.", count)
                % {"count": count},
                messages.SUCCESS,
            )
            return None
    else:
        form = SendMessageForm()
    opts = modeladmin.model._meta
    listed = list(queryset[:_LISTED_RECIPIENTS])
    recipient_count = queryset.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": gettext("Send a message"),
        "opts": opts,
        "form": form,
        "recipients": listed,
        "recipient_count": recipient_count,
        "more_recipients": max(recipient_count - len(listed), 0),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        # Echoed back so the changelist runs this action again on the same selection. By its
        # registered name: the posted "action" may list one value per action bar.
        "action": _registered_name(modeladmin, request),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, "admin/user_messages/send_message.html", context)


def _action_func(entry: Any) -> Any:
    # Django 6.1 returns Action objects (indexing them is deprecated); earlier, tuples.
    return getattr(entry, "func", None) or (entry[0] if entry is not None else None)


def _registered_name(modeladmin: admin.ModelAdmin[Any], request: HttpRequest) -> str:
    for name, entry in modeladmin.get_actions(request).items():
        if _action_func(entry) is send_message:
            return str(name)
    raise LookupError(f"send_message is not an action of {modeladmin!r}.")


#: get_actions() called without action_location: Django before 6.1 has no such argument.
_NO_LOCATION: Any = object()


def _offered(get_actions: Any, request: HttpRequest, action_location: Any) -> Any:
    """What ``get_actions`` returns, without ``send_message`` unless the user may send."""
    if action_location is _NO_LOCATION:
        actions = get_actions(request)
    else:  # Django 6.1+: the changelist and the change form ask for their own actions
        actions = get_actions(request, action_location=action_location)
    if request.user.has_perm(conf.SEND_PERMISSION):
        return actions
    return {
        name: entry for name, entry in actions.items() if _action_func(entry) is not send_message
    }


if TYPE_CHECKING:
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class SendMessageAdminMixin(_ModelAdminBase):
    """Mix into a user admin that lists ``send_message``: only staff who may send see it.

    Django's own ``allowed_permissions`` would need a ``has_..._permission`` method on every
    admin that lists the action, so a plain ``actions = [send_message]`` would fail the admin's
    checks; the mixin filters what ``get_actions`` returns instead, on Django 4.2 to 6.x.
    """

    def get_actions(self, request: HttpRequest, action_location: Any = _NO_LOCATION) -> Any:
        """The admin's actions, without ``send_message`` for staff who may not send."""
        return _offered(super().get_actions, request, action_location)


#: How many recipients the form names before it says "and N more".
_LISTED_RECIPIENTS = 20


def _offer_send_on_the_stock_user_admin() -> None:
    # Staff expect the action on the user changelist without code; a project that registers its
    # own user admin adds it there (docs: howto/admin.md). Only auth's own UserAdmin is touched, on
    # the instance, and only if auth's admin is already loaded: importing it here would
    # register User as a side effect.
    auth_admin = sys.modules.get("django.contrib.auth.admin")
    model_admin = admin.site._registry.get(get_user_model())
    if auth_admin is not None and type(model_admin) is auth_admin.UserAdmin:
        assert model_admin is not None
        model_admin.actions = [*(model_admin.actions or ()), send_message]
        # What SendMessageAdminMixin does, on this one instance.
        listed = model_admin.get_actions

        def get_actions(request: HttpRequest, action_location: Any = _NO_LOCATION) -> Any:
            return _offered(listed, request, action_location)

        model_admin.get_actions = get_actions  # type: ignore[method-assign]


_offer_send_on_the_stock_user_admin()
