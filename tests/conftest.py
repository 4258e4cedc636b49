"""Fixtures shared by every tier."""

from __future__ import annotations

import os
import pathlib

import hypothesis

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CRDS = REPO / "crds"

# Property tests draw the same examples on every run, so CI fails only on a change to the code;
# `HYPOTHESIS_PROFILE=explore` draws new ones, many more, to look for what they have not found.
hypothesis.settings.register_profile("nimbus", max_examples=200, derandomize=True, deadline=None)
hypothesis.settings.register_profile("explore", max_examples=5000, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "nimbus"))
