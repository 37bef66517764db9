# django-user-messages kept meta as JSON text in `_metadata`; it becomes a JSON column `meta`.
# Text that does not parse becomes {}, which is what django-user-messages showed for it.

import json

from django.db import migrations, models

BATCH_SIZE = 1000


def _parse(text):
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {} if value is None else value


def _rewrite(queryset, source, target, convert):
    manager = queryset.model.objects.db_manager(queryset.db)
    batch = []
    for message in queryset.only("pk", source).iterator(chunk_size=BATCH_SIZE):
        setattr(message, target, convert(getattr(message, source)))
        batch.append(message)
        if len(batch) == BATCH_SIZE:
            manager.bulk_update(batch, [target])
            batch = []
    manager.bulk_update(batch, [target])


def text_to_json(apps, schema_editor):
    Message = apps.get_model("user_messages", "Message")
    rows = Message.objects.using(schema_editor.connection.alias).exclude(_metadata="")
    _rewrite(rows, "_metadata", "meta", _parse)


def json_to_text(apps, schema_editor):
    Message = apps.get_model("user_messages", "Message")
    rows = Message.objects.using(schema_editor.connection.alias).all()
    _rewrite(rows, "meta", "_metadata", json.dumps)


class Migration(migrations.Migration):
    dependencies = [
        ("user_messages", "0001_squashed_0003_alter_message_index_together_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="meta",
            field=models.JSONField(blank=True, default=dict, verbose_name="meta data"),
        ),
        migrations.RunPython(text_to_json, json_to_text, elidable=False),
        migrations.RemoveField(model_name="message", name="_metadata"),
    ]
