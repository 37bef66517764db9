from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


class UserMessagesConfig(AppConfig):
    default_auto_field = "django.db.models.AutoField"
    name = "user_messages"
    verbose_name = capfirst(_("user messages"))

    def ready(self) -> None:
        from user_messages import cache
        from user_messages import checks as user_messages_checks
        from user_messages.signals import messages_changed

        messages_changed.connect(cache.on_messages_changed, dispatch_uid="user_messages.cache")
        try:
            import channels  # noqa: F401
        except ImportError:
            pass  # The realtime extra is not installed: no live push, everything else works.
        else:
            from user_messages.realtime import groups

            messages_changed.connect(
                groups.on_messages_changed, dispatch_uid="user_messages.realtime"
            )

        checks.register(user_messages_checks.check_context_processors, checks.Tags.templates)
        checks.register(user_messages_checks.check_settings)
        checks.register(user_messages_checks.check_channel_layers)
