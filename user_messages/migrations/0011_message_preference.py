# Users choose which categories they get: a row only where a choice differs from the
# category's default, so declaring a new category needs no data migration. The unique
# constraint on (user, category) also serves the lookup by user, so the foreign key has no
# index of its own, as on messages.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("user_messages", "0010_message_category"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MessagePreference",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("category", models.CharField(max_length=64, verbose_name="category")),
                ("enabled", models.BooleanField(verbose_name="enabled")),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "message preference",
                "verbose_name_plural": "message preferences",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "category"), name="user_messages_one_preference"
                    )
                ],
            },
        ),
    ]
