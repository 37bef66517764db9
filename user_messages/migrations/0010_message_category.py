# Messages get a category: a name declared in USER_MESSAGES["CATEGORIES"], or "" for none.
# Every existing row gets "". The column is added with a default that is dropped again (the
# model's default fills it from then on): PostgreSQL 11+ and MariaDB 10.3+ add such a column
# without rewriting the table; SQLite copies the table, as it does for any new NOT NULL column.
# No index: a category is read together with a user, whose indexes already narrow the rows.
#
# On PostgreSQL and MariaDB the column keeps a database default of "": processes still running
# older code (a rolling deploy, django-user-messages 1.1) insert rows without naming it.

from typing import Any

from django.db import migrations, models

ALTER = "ALTER TABLE {table} ALTER COLUMN {column} {change}"


def _alter_default(schema_editor: Any, change: str) -> None:
    connection = schema_editor.connection
    if connection.vendor not in ("postgresql", "mysql"):
        return  # SQLite cannot change a column's default without copying the table
    qn = connection.ops.quote_name
    schema_editor.execute(
        ALTER.format(table=qn("user_messages_message"), column=qn("category"), change=change)
    )


def keep_a_database_default(apps: Any, schema_editor: Any) -> None:
    _alter_default(schema_editor, "SET DEFAULT ''")


def drop_the_database_default(apps: Any, schema_editor: Any) -> None:
    _alter_default(schema_editor, "DROP DEFAULT")


class Migration(migrations.Migration):
    dependencies = [
        ("user_messages", "0009_user_history_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="category",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="category"),
        ),
        # Not atomic: MariaDB runs no DDL inside a transaction.
        migrations.RunPython(keep_a_database_default, drop_the_database_default, atomic=False),
    ]
