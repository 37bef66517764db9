# Two facts beside delivered_at, which keeps its 1.1 meaning ("no longer pending"): when a
# consuming read first showed a message, and when it was acknowledged.
#
# Rows written before this migration get what their columns tell: a sticky message that is no
# longer pending can only have been acknowledged, so acknowledged_at = delivered_at; a
# deliver-once message that is no longer pending is taken as shown, so seen_at = delivered_at
# (1.1 had no other way to deliver it). When a sticky message was first seen is not known:
# seen_at stays NULL. Pending rows keep both NULL.

from typing import Any

from django.db import migrations, models


def fill_from_delivered_at(apps: Any, schema_editor: Any) -> None:
    Message = apps.get_model("user_messages", "Message")
    done = Message.objects.using(schema_editor.connection.alias).filter(delivered_at__isnull=False)
    done.filter(deliver_once=False).update(acknowledged_at=models.F("delivered_at"))
    done.filter(deliver_once=True).update(seen_at=models.F("delivered_at"))


class Migration(migrations.Migration):
    dependencies = [("user_messages", "0007_user_pending_index")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="seen_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="seen at"),
        ),
        migrations.AddField(
            model_name="message",
            name="acknowledged_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="acknowledged at"),
        ),
        # Backwards, the columns are dropped: nothing to undo.
        migrations.RunPython(fill_from_delivered_at, migrations.RunPython.noop, elidable=False),
    ]
