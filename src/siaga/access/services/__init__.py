"""Use cases of the gate: register visitors and visits, approve or deny them, issue standing
passes, check people in and out under the site's rules, keep the watchlist, look a person up
by NIK (own region only, recorded, throttled), and the sweep that expires visits and raises
overstay alarms.

Each change, its gate event or visit, the "who is inside" board and its ledger entries commit
together. Refusals change nothing, with one exception on purpose: a watchlisted person at the
gate raises an alarm (and its ledger entry) before the refusal is answered.

One module per sub-domain; callers use ``from siaga.access import services`` and
``services.check_in(...)`` as before."""

from __future__ import annotations

from siaga.access.services.common import (
    EARLY_ARRIVAL,
    MAX_PASS_LENGTH,
    MAX_VISIT_LENGTH,
    Item,
    PersonData,
    local_time,
    needs_two_persons,
    normalise_phone,
    normalise_plate,
    rules_of,
)
from siaga.access.services.gate import _credential, check_in, check_out
from siaga.access.services.passes import issue_pass, pass_refusal, revoke_pass, update_rules
from siaga.access.services.sweep import (
    approvals_waiting,
    expire_visits,
    flag_overstays,
    record_log_export,
    sweep,
)
from siaga.access.services.visitors import (
    WATCHLISTED_MESSAGE,
    Watchlisted,
    listing_of,
    lookup_visitor,
    set_visitor_photo,
    set_watchlist,
)
from siaga.access.services.visits import (
    MISSING_AFTER_HOURS,
    MISSING_AFTER_HOURS_LATER,
    MISSING_DECISION,
    approvals_missing,
    approve_visit,
    deny_visit,
    register_visit,
)

__all__ = [
    "EARLY_ARRIVAL",
    "MAX_PASS_LENGTH",
    "MAX_VISIT_LENGTH",
    "MISSING_AFTER_HOURS",
    "MISSING_AFTER_HOURS_LATER",
    "MISSING_DECISION",
    "WATCHLISTED_MESSAGE",
    "Item",
    "PersonData",
    "Watchlisted",
    "_credential",
    "approvals_missing",
    "approvals_waiting",
    "approve_visit",
    "check_in",
    "check_out",
    "deny_visit",
    "expire_visits",
    "flag_overstays",
    "issue_pass",
    "listing_of",
    "local_time",
    "lookup_visitor",
    "needs_two_persons",
    "normalise_phone",
    "normalise_plate",
    "pass_refusal",
    "record_log_export",
    "register_visit",
    "revoke_pass",
    "rules_of",
    "set_visitor_photo",
    "set_watchlist",
    "sweep",
    "update_rules",
]
