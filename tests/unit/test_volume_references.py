"""Which volume states a server keeps or waits for (compute.references.volume_claim): Cinder's
words, a table."""

from __future__ import annotations

import pytest

from nimbus.compute import references
from nimbus.runtime import cache
from nimbus.runtime.conditions import FailedError, WaitingError


def _view(state: str | None) -> cache.View:
    volume = {"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
              "metadata": {"name": "data", "namespace": "p", "uid": "v-1"},
              "status": {"status": state, "persistentVolumeClaim": "data-claim"}}  # fmt: skip
    return cache.View.of_objects([volume])


@pytest.mark.parametrize("state", ["available", "in-use", "attaching", "detaching", "extending"])
def test_a_volume_in_these_states_is_the_server_s(state: str) -> None:
    assert references.volume_claim(_view(state), "data", "p", "spec.volumes[0]") == "data-claim"


@pytest.mark.parametrize("state", [None, "creating", "downloading"])
def test_a_volume_not_ready_yet_is_waited_for(state: str | None) -> None:
    with pytest.raises(WaitingError) as waiting:
        references.volume_claim(_view(state), "data", "p", "spec.volumes[0]")
    assert waiting.value.condition.reason == "VolumeNotAvailable"


def test_a_volume_in_error_fails_the_build() -> None:
    with pytest.raises(FailedError):
        references.volume_claim(_view("error"), "data", "p", "spec.volumes[0]")
