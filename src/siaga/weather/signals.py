"""The hook for what follows a warning at a site.

``warning_in_force`` is sent once per warning × site, when the warning comes into force there
(on arrival, or when the worker finds its effective time has come), with:

- ``sender``: ``WeatherWarning``;
- ``warning``: the ``WeatherWarning`` now in force;
- ``site``: the ``Site`` it covers;
- ``update_of``: the warning it updates when it continues one that was already in force at
  this site (a receiver that opened a checklist for that one need not open another), else
  ``None``.

It is sent inside the transaction that records the change, so a receiver's writes (the
inspections capability opening the evening rain checklist, say) commit or roll back with it;
a receiver that raises makes the whole change fail. A receiver must therefore only write to the
database, never send anything outside it — notifications go through the outbox, which is
itself transactional.
"""

from __future__ import annotations

from django.dispatch import Signal

warning_in_force = Signal()
