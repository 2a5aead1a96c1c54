"""Seeding an election's catalogue and need rules."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from siaga.logistics.catalogue import CATALOGUE_2024, Item
from siaga.logistics.models import (
    Election,
    ItemType,
    NeedRule,
)


def seed_catalogue(
    *,
    code: str = "pemilu-2024",
    name: str = "Pemilu 2024",
    voting_day: dt.date = dt.date(2024, 2, 14),
    catalogue: tuple[Item, ...] = CATALOGUE_2024,
) -> Election:
    """The election with the catalogue and need rules, as data. Run again, it adds what is
    missing and leaves what an administrator has edited alone."""
    with transaction.atomic():
        election, _created = Election.objects.get_or_create(
            code=code, defaults={"name": name, "voting_day": voting_day}
        )
        for position, item in enumerate(catalogue, start=1):
            row, created = ItemType.objects.get_or_create(
                election=election,
                code=item.code,
                defaults={
                    "name": item.name,
                    "category": item.category,
                    "colour": item.colour,
                    "unit": item.unit,
                    "position": position,
                },
            )
            if created:
                NeedRule.objects.bulk_create(
                    NeedRule(
                        item=row,
                        basis=rule.basis,
                        quantity=rule.quantity,
                        reserve_percent=rule.reserve_percent,
                        excluded_regions=list(rule.excluded),
                    )
                    for rule in item.rules
                )
    return election
