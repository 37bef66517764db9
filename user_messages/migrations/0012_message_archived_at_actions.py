# Messages can be archived (archived_at: the user removed it from their inbox) and carry action
# buttons (actions: a list of {"label", "url"} dicts). Every existing row is in the inbox (NULL)
# and has no actions ([]). archived_at is nullable and cheap to add everywhere; actions is added
# as 0010 added category: with a default that the AddField drops again.
#
# On PostgreSQL and MariaDB the actions column keeps a database default of [] (as category keeps
# ""): processes still running older code (a rolling deploy, django-user-messages 1.1) insert
# rows without naming it. No index: both are read together with a user, whose indexes narrow the
# rows already.

from typing import Any

from django.db import migrations, models

ALTER = "ALTER TABLE {table} ALTER COLUMN {column} {change}"


def _alter_default(schema_editor: Any, change: str) -> None:
    connection = schema_editor.connection
    if connection.vendor not in ("postgresql", "mysql"):
        return  # SQLite cannot change a column's default without copying the table
    qn = connection.ops.quote_name
    schema_editor.execute(
        ALTER.format(table=qn("user_messages_message"), column=qn("actions"), change=change)
    )


def keep_a_database_default(apps: Any, schema_editor: Any) -> None:
    _alter_default(schema_editor, "SET DEFAULT '[]'")


def drop_the_database_default(apps: Any, schema_editor: Any) -> None:
    _alter_default(schema_editor, "DROP DEFAULT")


class Migration(migrations.Migration):
    dependencies = [
        ("user_messages", "0011_message_preference"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="archived_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="archived at"),
        ),
        migrations.AddField(
            model_name="message",
            name="actions",
            field=models.JSONField(blank=True, default=list, verbose_name="actions"),
        ),
        # Not atomic: MariaDB runs no DDL inside a transaction.
        migrations.RunPython(keep_a_database_default, drop_the_database_default, atomic=False),
    ]
