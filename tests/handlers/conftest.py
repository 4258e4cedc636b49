"""The handler tier: each test starts from empty process state (the address ledger, the
report queues, the default groups made) and reports at once after a build."""

from __future__ import annotations

import pytest

from nimbus.compute import references, reports
from nimbus.network import ipam
from nimbus.runtime import reporting


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipam, "LEDGER", ipam.Ledger())
    monkeypatch.setattr(reports, "_REPORTS", {})
    monkeypatch.setattr(references, "_DEFAULT_GROUPS", {})
    monkeypatch.setattr(reporting, "BUILDS", reporting.Builds(grace=0.0))
    monkeypatch.delenv("NIMBUS_PLACEMENT", raising=False)
