# Messages get a category: a name declared in USER_MESSAGES["CATEGORIES"], or "" for none.
# Every existing row gets "". The column is added with a default that is dropped again (the
# model's default fills it from then on): PostgreSQL 11+ and MariaDB 10.3+ add such a column
# without rewriting the table; SQLite copies the table, as it does for any new NOT NULL column.
# No index: a category is read together with a user, whose indexes already narrow the rows.

from django.db import migrations, models


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
    ]
