"""Fewer indexes on the ledger's entries, each written with every custody event: kind by one
plain index, region by one pattern index that serves both equality and prefix (subtree) lookups."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_create_head"),
    ]

    operations = [
        migrations.AlterField(
            model_name="entry",
            name="kind",
            field=models.CharField(max_length=60, verbose_name="kind"),
        ),
        migrations.AlterField(
            model_name="entry",
            name="region",
            field=models.CharField(blank=True, max_length=13, verbose_name="region code"),
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(fields=["kind"], name="entry_kind"),
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(
                fields=["region"], name="entry_region", opclasses=["varchar_pattern_ops"]
            ),
        ),
    ]
