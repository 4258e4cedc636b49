"""The image's wheel, built and installed in a clean venv from the pins (pip and the registry:
the integration tier), running `nimbus --help`."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).parents[2]
LOCK = REPO / "requirements.lock"


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
    assert "{run,extender,api,router-agent,amphora-agent,check,generate,devcloud}" in helped.stdout
    # The image needs nothing else: pip finds every requirement satisfied.
    checked = subprocess.run([str(venv / "bin" / "pip"), "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
