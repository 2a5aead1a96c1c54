"""A person's data stays with the region that holds it: a national ``Person`` (the NIK
encrypted, found by a keyed hash) and one ``Visitor`` record per person and Kabupaten/Kota.
This step adds the new columns beside the old ones; 0004 moves the data, 0005 drops the
plaintext columns."""

from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import siaga.core.crypto
import siaga.core.ids


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_unguarded_zone_policy"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Person",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=siaga.core.ids.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "nik_hash",
                    models.CharField(max_length=80, unique=True, verbose_name="NIK look-up hash"),
                ),
                (
                    "nik",
                    siaga.core.crypto.EncryptedTextField(
                        blank=True, help_text="Encrypted; empty once erased.", verbose_name="NIK"
                    ),
                ),
                (
                    "erased_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="NIK erased at"),
                ),
            ],
            options={"verbose_name": "person", "verbose_name_plural": "persons"},
        ),
        migrations.AddField(
            model_name="visitor",
            name="person",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="records",
                to="access.person",
                verbose_name="person",
            ),
        ),
        migrations.AddField(
            model_name="visitor",
            name="region",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The Kabupaten/Kota that registered the person here.",
                max_length=13,
                verbose_name="region holding the record",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="visitor",
            name="nik_masked",
            field=models.CharField(blank=True, max_length=16, verbose_name="NIK (masked)"),
        ),
        migrations.AddField(
            model_name="visitor",
            name="person_ref",
            field=models.CharField(blank=True, max_length=64, verbose_name="ledger pseudonym"),
        ),
        migrations.AddField(
            model_name="visitor",
            name="phone_sealed",
            field=siaga.core.crypto.EncryptedTextField(blank=True, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="visitor",
            name="photo_sealed",
            field=siaga.core.crypto.EncryptedBinaryField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="visitor",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="visitor_records",
                to=settings.AUTH_USER_MODEL,
                verbose_name="SIAGA account",
            ),
        ),
        migrations.AlterField(
            model_name="visitor",
            name="nik",
            field=models.CharField(max_length=16, verbose_name="NIK"),
        ),
        migrations.AddField(
            model_name="visit",
            name="visitor_name",
            field=models.CharField(
                blank=True, max_length=150, verbose_name="visitor's name, as registered"
            ),
        ),
        migrations.AddField(
            model_name="visit",
            name="visitor_organisation",
            field=models.CharField(
                blank=True, max_length=150, verbose_name="visitor's organisation, as registered"
            ),
        ),
        migrations.CreateModel(
            name="VisitorChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("field", models.CharField(max_length=30, verbose_name="field")),
                (
                    "old_value",
                    siaga.core.crypto.EncryptedTextField(blank=True, verbose_name="old value"),
                ),
                ("changed_at", models.DateTimeField(verbose_name="changed at")),
                ("via", models.CharField(blank=True, max_length=30, verbose_name="through")),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="changed by",
                    ),
                ),
                (
                    "visitor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="changes",
                        to="access.visitor",
                        verbose_name="record",
                    ),
                ),
            ],
            options={
                "verbose_name": "change of a visitor record",
                "verbose_name_plural": "changes of visitor records",
                "ordering": ["visitor_id", "changed_at", "pk"],
                "indexes": [
                    models.Index(fields=["visitor", "changed_at"], name="visitor_change_time")
                ],
            },
        ),
    ]
