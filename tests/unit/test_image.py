"""The container image, as far as it can be checked without a Docker engine: its pins, its
Dockerfile's promises, and the wheel it installs, built and installed in a clean venv from the
pins, running `nimbus --help`."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import subprocess
import sys
import tomllib
import zipfile

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


@pytest.mark.timeout(600)
def test_the_wheel_installs_from_the_pins_in_a_clean_venv(tmp_path: pathlib.Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(wheels), str(REPO)], check=True)  # fmt: skip
    (wheel,) = wheels.glob("nimbus-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nimbus/templates/virtualmachine.yaml.j2" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    helped = subprocess.run([str(venv / "bin" / "nimbus"), "--help"], capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert "{run,extender,check,generate,devcloud}" in helped.stdout
    # The image needs nothing else: pip finds every requirement satisfied.
    checked = subprocess.run([str(venv / "bin" / "pip"), "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
