from __future__ import annotations

from siaga.access.views import gate, records

app_name = "access"
# The guard's and the host's pages (gate.py); the log, roll call, passes and rules (records.py).
urlpatterns = [*gate.urlpatterns, *records.urlpatterns]
