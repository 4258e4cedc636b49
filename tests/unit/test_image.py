"""The container image, as far as it can be checked without a Docker engine: its pins and its
Dockerfile's promises (the wheel it installs: tests/integration/test_image_wheel.py)."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).parents[2]
LOCK = REPO / "requirements.lock"
TEST_LOCK = REPO / "requirements-test.lock"
DOCKERFILE = (REPO / "Dockerfile").read_text()


def pins(lock: pathlib.Path = LOCK) -> dict[str, str]:
    out = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            out[name.lower().replace("_", "-")] = version
    return out


PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        (LOCK, PROJECT["dependencies"]),
        (TEST_LOCK, PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]),
    ],
    ids=["image", "test"],
)
def test_every_dependency_is_pinned_within_its_range(
    lock: pathlib.Path, requirements: list[str]
) -> None:
    pinned = pins(lock)
    for text in requirements:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in {lock.name}: run `make lock`"
        assert requirement.specifier.contains(pinned[name]), (text, pinned[name])


def test_the_test_lock_pins_the_image_s_dependencies_alike() -> None:
    image, test = pins(LOCK), pins(TEST_LOCK)
    assert {name: test.get(name) for name in image} == image, "run `make lock`"


def test_the_pins_are_what_the_tests_run() -> None:
    # make venv installs requirements-test.lock, so this fails only on a venv made otherwise
    # (by hand, or by `make bench-nova`, which resolves Nova's dependencies freely).
    for name, version in pins(TEST_LOCK).items():
        rebuild = "rm -rf .venv && make venv"
        assert importlib.metadata.version(name) == version, f"{name}: rebuild the venv: {rebuild}"


def test_the_dockerfile_is_slim_pinned_and_non_root() -> None:
    base = re.search(r"^ARG PYTHON=(\S+)$", DOCKERFILE, re.M)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1))
    assert "pip install --no-cache-dir -r /tmp/requirements.lock" in DOCKERFILE
    assert "--no-deps /wheels/*.whl" in DOCKERFILE  # nothing unpinned comes with the wheel
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE, re.M)
    assert user is not None
    assert user.group(1) != "0"
    values = yaml.safe_load((REPO / "charts/nimbus/values.yaml").read_text())
    assert values["operator"]["podSecurityContext"]["runAsUser"] == int(user.group(1))
    assert 'ENTRYPOINT ["nimbus"]' in DOCKERFILE
