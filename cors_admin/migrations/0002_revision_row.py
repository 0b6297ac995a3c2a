from django.db import migrations


def create_revision_row(apps, schema_editor):
    CorsRevision = apps.get_model("cors_admin", "CorsRevision")
    CorsRevision.objects.using(schema_editor.connection.alias).get_or_create(
        pk=1, defaults={"value": 1}
    )


class Migration(migrations.Migration):
    dependencies = [("cors_admin", "0001_initial")]

    operations = [migrations.RunPython(create_revision_row, migrations.RunPython.noop)]
