"""Fixtures shared by every tier."""

from __future__ import annotations

import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CRDS = REPO / "crds"
