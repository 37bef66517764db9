# django-user-messages 1.1 declared user_delivered_at as an expression index, which Django skips
# on MariaDB, and kept a second, redundant index on user_id. One plain index serves every backend.
# The order matters on MariaDB, whose foreign key needs some index on user_id at every step.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("user_messages", "0005_message_expires_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="message",
            name="user_delivered_at",
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["user", "delivered_at"], name="user_delivered_at"),
        ),
        migrations.AlterField(
            model_name="message",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="user",
            ),
        ),
    ]
