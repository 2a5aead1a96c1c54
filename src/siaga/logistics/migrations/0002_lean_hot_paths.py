"""The scan path's tables made cheaper to write (``bench/custody.py``): fewer indexes on the rows
each scan rewrites, no per-row constraint checks on the scan log, and on PostgreSQL seals and
BAST lines stored half full so that a verification rewrites the row in place (a HOT update,
which leaves the indexes alone) instead of adding an entry to each index."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Half of each page left free: a receipt batch rewrites every seal and BAST line of the
# packages it covers, neighbours on the same pages, all in one transaction.
HALF_FULL = ("logistics_seal", "logistics_handoverpackage")


def _fill(percent: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in HALF_FULL:
            schema_editor.execute(f'ALTER TABLE "{table}" SET (fillfactor = {percent})')

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("logistics", "0001_initial"),
        ("sites", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_fill(50), _fill(100), elidable=True),
        migrations.RemoveIndex(
            model_name="package",
            name="package_destination",
        ),
        migrations.AlterField(
            model_name="handoverpackage",
            name="handover",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="packages",
                to="logistics.handover",
            ),
        ),
        migrations.AlterField(
            model_name="package",
            name="code",
            field=models.CharField(max_length=40, verbose_name="code"),
        ),
        migrations.AlterField(
            model_name="package",
            name="election",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="logistics.election",
            ),
        ),
        migrations.AlterField(
            model_name="package",
            name="handover",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="logistics.handover",
                verbose_name="last handover",
            ),
        ),
        migrations.AlterField(
            model_name="package",
            name="location",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="Empty while in transit.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sites.site",
                verbose_name="now at",
            ),
        ),
        migrations.AlterField(
            model_name="package",
            name="packed_by",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="scan",
            name="by",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="scan",
            name="handover",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="scans",
                to="logistics.handover",
            ),
        ),
        migrations.AlterField(
            model_name="scan",
            name="package",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="scans",
                to="logistics.package",
            ),
        ),
        migrations.AlterField(
            model_name="scan",
            name="site",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sites.site",
            ),
        ),
        migrations.AddConstraint(
            model_name="package",
            constraint=models.UniqueConstraint(fields=("code",), name="package_code_once"),
        ),
    ]
