"""Logistics use cases: each changes state in one transaction and writes its ledger entries.

Stock (loose items per site), each package's location and state, and each seal's state change
only here, each with the ledger entry that records it; ``replay.py`` rebuilds them from the
ledger to prove it.

One module per sub-domain; callers use ``from siaga.logistics import services`` and
``services.dispatch_handover(...)`` as before."""

from __future__ import annotations

from siaga.logistics.services.catalogue import seed_catalogue
from siaga.logistics.services.common import (
    PACKAGE_PREFIX,
    WITNESS_AGENCIES,
    DestructionLineIn,
    Line,
    ReceiptLineIn,
    ReceivedLine,
    SortingLineIn,
    Witness,
    package_code,
    seal_serial,
)
from siaga.logistics.services.handovers import dispatch_handover, receive_handover
from siaga.logistics.services.packing import pack_package, service_area
from siaga.logistics.services.receiving import record_destruction, record_receipt, record_sorting
from siaga.logistics.services.reseal import reseal_package, resolve_discrepancy
from siaga.logistics.services.scans import SCAN_BATCH_MAX, ScanIn, ScanOutcome, ingest_scans

__all__ = [
    "PACKAGE_PREFIX",
    "SCAN_BATCH_MAX",
    "WITNESS_AGENCIES",
    "DestructionLineIn",
    "Line",
    "ReceiptLineIn",
    "ReceivedLine",
    "ScanIn",
    "ScanOutcome",
    "SortingLineIn",
    "Witness",
    "dispatch_handover",
    "ingest_scans",
    "pack_package",
    "package_code",
    "receive_handover",
    "record_destruction",
    "record_receipt",
    "record_sorting",
    "reseal_package",
    "resolve_discrepancy",
    "seal_serial",
    "seed_catalogue",
    "service_area",
]
