"""The plaintext NIK, phone and photo columns go: what they held lives encrypted in the person
and the regional records (0004)."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

import siaga.core.crypto


class Migration(migrations.Migration):
    dependencies = [("access", "0004_split_visitors_by_region")]

    operations = [
        migrations.RemoveField(model_name="visitor", name="nik"),
        migrations.RemoveField(model_name="visitor", name="phone"),
        migrations.RemoveField(model_name="visitor", name="photo"),
        migrations.RenameField(model_name="visitor", old_name="phone_sealed", new_name="phone"),
        migrations.RenameField(model_name="visitor", old_name="photo_sealed", new_name="photo"),
        migrations.AlterField(
            model_name="visitor",
            name="phone",
            field=siaga.core.crypto.EncryptedTextField(
                blank=True, help_text="E.164, +62…; encrypted", verbose_name="phone"
            ),
        ),
        migrations.AlterField(
            model_name="visitor",
            name="photo",
            field=siaga.core.crypto.EncryptedBinaryField(
                blank=True, null=True, verbose_name="photo"
            ),
        ),
        migrations.AlterField(
            model_name="visitor",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="records",
                to="access.person",
                verbose_name="person",
            ),
        ),
        migrations.AddConstraint(
            model_name="visitor",
            constraint=models.UniqueConstraint(
                fields=("person", "region"), name="visitor_one_per_region"
            ),
        ),
        migrations.AddConstraint(
            model_name="visitor",
            constraint=models.UniqueConstraint(
                condition=models.Q(("user__isnull", False)),
                fields=("user", "region"),
                name="visitor_account_one_per_region",
            ),
        ),
        migrations.AddIndex(
            model_name="visitor",
            index=models.Index(fields=["region", "name"], name="visitor_region_name"),
        ),
    ]
