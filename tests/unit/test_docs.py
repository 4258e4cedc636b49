"""The documentation site: the generated reference is fresh, and mkdocs builds it strict (a
broken link or a page outside the navigation fails)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import yaml

from nimbus.api import kinds
from nimbus.generate import docgen

REPO = pathlib.Path(__file__).parents[2]


def test_the_reference_is_generated_and_fresh() -> None:
    assert docgen.stale() == [], "run `make generate`"
    server = (REPO / "docs/reference/servers.md").read_text()
    assert "| `spec.flavor` (required) | string |" in server
    assert "availabilityZone is immutable" in server


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    listed = set(pages(config["nav"]))
    present = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert present == listed
    assert {f"reference/{k.plural}.md" for k in kinds.ALL} <= listed


def test_the_site_builds_strict(tmp_path: pathlib.Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reference" / "servers" / "index.html").exists()
