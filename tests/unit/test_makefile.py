"""The Makefile's promises to a newcomer: `make help` lists every documented target, `make image`
says plainly that it needs a Docker engine, and `make demo` ends with both lines that point a
shell at the cloud (its kubeconfig, and the pinned kubectl before any other on PATH)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess

import pytest

from nimbus import __main__ as cli
from nimbus.devcloud import build

REPO = pathlib.Path(__file__).parents[2]


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, text=True,
                          capture_output=True, env=dict(os.environ, **env), timeout=60)  # fmt: skip


def test_make_help_lists_every_documented_target() -> None:
    documented = re.findall(r"^([^\s:#]+):[^\n]*## ", (REPO / "Makefile").read_text(), re.M)
    listed = re.findall(r"^  make (\S+)", make("help").stdout, re.M)
    assert "e2e" in documented
    assert listed == documented


def test_make_image_without_a_docker_engine_says_so() -> None:
    result = make("image", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode != 0
    assert result.stdout.startswith("make image needs a Docker engine, and none answers here")
    assert "docker build" not in result.stdout + result.stderr


def test_make_demo_ends_with_both_exports() -> None:
    recipe = make("-n", "demo").stdout
    assert ".venv/bin/nimbus devcloud env" in recipe.split("Use it:")[1]


def test_devcloud_env_prints_the_kubeconfig_and_the_pinned_kubectl_first_on_path(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["devcloud", "env", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"export KUBECONFIG={tmp_path.resolve() / 'kubeconfig'}",
        f"export PATH={build.binary('kubectl').parent}:$PATH",
    ]
