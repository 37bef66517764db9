# Every page view asks PostgreSQL for one user's pending messages, oldest first. Through
# user_delivered_at it finds them and then sorts them by id; a partial index of only the pending
# rows, by user then id, gives them already in order, in a few pages however many messages the
# user was ever sent.
#
# Only PostgreSQL gets it. SQLite keeps index entries with equal keys in rowid (id) order, so
# user_delivered_at needs no sort there and a second index would only slow inserts. MariaDB has
# no partial indexes: Django would build a full index and warn (models.W037). That is why the
# index is not in the model's state. Mind it when changing this table on PostgreSQL: operations
# that rebuild indexes from the state would not know it; tests/test_migrations.py checks that it
# exists after migrating.
#
# Built CONCURRENTLY, outside a transaction, so that upgrading a large table does not block the
# sends and deliveries of a running site while the index builds.

from typing import Any

from django.db import migrations, models

PENDING = models.Index(
    fields=["user", "id"],
    condition=models.Q(delivered_at__isnull=True),
    name="user_pending",
)


def add_pending_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(
            apps.get_model("user_messages", "Message"), PENDING, concurrently=True
        )


def remove_pending_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(
            apps.get_model("user_messages", "Message"), PENDING, concurrently=True
        )


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("user_messages", "0006_user_delivered_at_index_everywhere")]

    operations = [migrations.RunPython(add_pending_index, remove_pending_index, elidable=False)]
