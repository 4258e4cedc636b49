"""The dashboard's container image (dashboard/Dockerfile), as far as it can be checked without a
Docker engine: the operator's base, Horizon at the test lock's pins, static files collected at
build, non-root."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement

from tests.unit.test_image import DOCKERFILE, REPO, TEST_LOCK, pins

DASHBOARD_DOCKERFILE = (REPO / "dashboard" / "Dockerfile").read_text()
DASHBOARD_USER = 65532


def _base(text: str) -> str:
    found = re.search(r"^ARG PYTHON=(\S+)$", text, re.M)
    assert found is not None
    return found.group(1)


def test_the_base_is_the_operator_image_s() -> None:
    assert _base(DASHBOARD_DOCKERFILE) == _base(DOCKERFILE)


def test_horizon_and_its_dependencies_are_the_test_lock_s_pins() -> None:
    """The dashboard extra, installed with requirements-test.lock as constraints: every one of
    its requirements is pinned there, within its range (pip takes the pin, never a newer)."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dashboard"]
    pinned = pins(TEST_LOCK)
    for text in extra:
        requirement = Requirement(text)
        assert requirement.specifier.contains(pinned[requirement.name.lower()]), text
    assert '["optional-dependencies"]["dashboard"]' in DASHBOARD_DOCKERFILE
    assert "pip install --no-cache-dir -c /tmp/requirements-test.lock -r /wheels/dashboard.txt" in (
        DASHBOARD_DOCKERFILE
    )
    assert "--no-deps /wheels/*.whl" in DASHBOARD_DOCKERFILE  # nimbus brings nothing unpinned


def test_static_files_are_collected_at_build_and_it_runs_non_root() -> None:
    assert "python -m nimbus.dashboard collect" in DASHBOARD_DOCKERFILE
    assert "NIMBUS_DASHBOARD_STATIC_ROOT=/opt/nimbus-dashboard/static" in DASHBOARD_DOCKERFILE
    user = re.search(r"^USER (\d+):(\d+)$", DASHBOARD_DOCKERFILE, re.M)
    assert user is not None
    assert int(user.group(1)) == DASHBOARD_USER != 0
    assert 'ENTRYPOINT ["python", "-m", "nimbus.dashboard"]' in DASHBOARD_DOCKERFILE
    assert 'CMD ["serve", "--bind=0.0.0.0:8080"]' in DASHBOARD_DOCKERFILE
