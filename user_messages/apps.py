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
            _connect_session_endings()

        checks.register(user_messages_checks.check_context_processors, checks.Tags.templates)
        checks.register(user_messages_checks.check_settings)
        checks.register(user_messages_checks.check_channel_layers)


def _connect_session_endings() -> None:
    """Logout, a password change, deactivation, deletion: the user's sockets learn of it."""
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import post_delete, post_save, pre_save

    from user_messages.realtime import sessions

    user_logged_out.connect(sessions.on_user_logged_out, dispatch_uid="user_messages.sessions")
    user_model = get_user_model()
    # Signals name the class saved: a proxy of the user model sends with itself as sender.
    for model in apps.get_models():
        if model._meta.concrete_model is user_model:
            uid = f"user_messages.sessions.{model._meta.label_lower}"
            pre_save.connect(sessions.on_user_saving, sender=model, dispatch_uid=uid)
            post_save.connect(sessions.on_user_saved, sender=model, dispatch_uid=uid)
            post_delete.connect(sessions.on_user_deleted, sender=model, dispatch_uid=uid)
