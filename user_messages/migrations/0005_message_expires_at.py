from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("user_messages", "0004_message_meta_json"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="expires at"),
        ),
    ]
