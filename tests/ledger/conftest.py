from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction

from siaga.ledger import services
from siaga.ledger.models import Checkpoint, Entry


@pytest.fixture
def grow() -> Callable[[int], list[Entry]]:
    """``grow(n)``: append n entries in OKU Timur (16.08.01) and return them."""

    def make(n: int, region: str = "16.08.01") -> list[Entry]:
        with transaction.atomic():
            return [
                services.append(
                    kind="test.fact",
                    subject=("test.thing", str(i)),
                    payload={"n": i, "note": "Gudang A — palet 3"},
                    actor="kpu.okut",
                    unit="KPU Kabupaten OKU Timur",
                    region=region,
                )
                for i in range(n)
            ]

    return make


@pytest.fixture
def signed(grow: Callable[[int], list[Entry]]) -> list[Checkpoint]:
    """A ledger of some entries with two checkpoints."""
    grow(13)
    first = services.make_checkpoint()
    grow(20)
    second = services.make_checkpoint()
    assert first is not None and second is not None
    return [first, second]
