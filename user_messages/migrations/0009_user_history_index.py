# A user's history is read newest first, a page at a time: WHERE user_id = %s AND id < %s ORDER
# BY id DESC LIMIT n. user_delivered_at orders a user's rows by delivered_at first, and
# PostgreSQL's user_pending holds pending rows only, so neither gives the page without a sort;
# an index on (user_id, id) does, on every backend, and page 500 costs what page 1 costs.
#
# On PostgreSQL it is built CONCURRENTLY, outside a transaction, as user_pending is, so that
# upgrading a large table does not block the sends and reads of a running site.

from typing import Any

from django.db import migrations, models

HISTORY = models.Index(fields=["user", "id"], name="user_history")


def _concurrently(schema_editor: Any) -> dict[str, bool]:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def add_history_index(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("user_messages", "Message")
    schema_editor.add_index(model, HISTORY, **_concurrently(schema_editor))


def remove_history_index(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("user_messages", "Message")
    schema_editor.remove_index(model, HISTORY, **_concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("user_messages", "0008_message_seen_at_acknowledged_at")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="message", index=HISTORY)],
            database_operations=[
                migrations.RunPython(add_history_index, remove_history_index, elidable=False)
            ],
        )
    ]
