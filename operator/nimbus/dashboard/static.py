"""Where Horizon's collected static files live, and collecting them once per Horizon version."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata

ENVIRONMENT = "NIMBUS_DASHBOARD_STATIC_ROOT"
# Written by django-compressor's `compress`: the pages' compressed CSS and JS, looked up offline.
MANIFEST = pathlib.Path("dashboard") / "manifest.json"


def root() -> pathlib.Path:
    """$NIMBUS_DASHBOARD_STATIC_ROOT, else a cache per Horizon and heat-dashboard version
    (~/.cache/nimbus/dashboard/horizon-<version>-heat-<version>/static): the compressed pages
    are keyed on the scripts the plugins add, so a new plugin needs its own collection."""
    configured = os.environ.get(ENVIRONMENT, "").strip()
    if configured:
        return pathlib.Path(configured)
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
    versions = f"horizon-{metadata.version('horizon')}-heat-{metadata.version('heat-dashboard')}"
    return cache / "nimbus" / "dashboard" / versions / "static"


def collected(static_root: pathlib.Path | None = None) -> pathlib.Path:
    """The static root, complete: collected and compressed by `python -m nimbus.dashboard
    collect` if it is not yet, into a directory beside it that is then renamed into place, so
    that no one (another test session, another local cloud) ever serves a half-collected one."""
    final = static_root or root()
    if (final / MANIFEST).exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = pathlib.Path(tempfile.mkdtemp(prefix=".collecting-", dir=final.parent))
    try:
        env = {**os.environ, ENVIRONMENT: str(partial),
               # collecting signs nothing, but Horizon's settings need a key to load
               "NIMBUS_DASHBOARD_SECRET_KEY": "collecting static files only"}  # fmt: skip
        env.pop("NIMBUS_DASHBOARD_SECRET_KEY_FILE", None)
        done = subprocess.run([sys.executable, "-m", "nimbus.dashboard", "collect"], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"collecting Horizon's static files failed:\n{done.stderr[-3000:]}")
        try:
            partial.rename(final)
        except OSError:  # collected meanwhile by someone else
            if not (final / MANIFEST).exists():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final
