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
DOCKERFILE = (REPO / "Dockerfile").read_text()


def pins() -> dict[str, str]:
    out = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            out[name.lower().replace("_", "-")] = version
    return out


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pinned[name]), (text, pinned[name])


def test_the_pins_are_what_the_tests_run() -> None:
    for name, version in pins().items():
        assert importlib.metadata.version(name) == version, f"{name}: run `make lock`"


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
