"""The benches' local cloud: a fresh control plane with its simulators, KWOK nodes enough for
the servers (a node takes 110 pods), and the operator as `nimbus run`; torn down after, its
logs kept when asked."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from nimbus.devcloud import cluster


@contextlib.contextmanager
def local_cloud(
    servers: int, logs: pathlib.Path | None = None
) -> Iterator[tuple[cluster.DevCloud, subprocess.Popen[bytes]]]:
    """The cloud and the operator's process, with a node per hundred `servers`."""
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-") as run_dir:
        devcloud = cluster.DevCloud(pathlib.Path(run_dir))
        operator: subprocess.Popen[bytes] | None = None
        try:  # whatever fails from here, the cloud goes down
            devcloud.up(log=False)
            nodes = [{"name": f"bench-{i}", "zone": "zone-a", "vcpus": 64, "memory_mb": 65536,
                      "disk_gb": 1000} for i in range(-(-servers // 100))]  # fmt: skip
            if nodes:
                devcloud.add_nodes(nodes)
            env = dict(os.environ, KUBECONFIG=str(devcloud.kubeconfig))
            with (devcloud.log_dir / "operator.log").open("wb") as out:
                operator = subprocess.Popen([sys.executable, "-m", "nimbus", "run"], stdout=out,
                                            stderr=subprocess.STDOUT, env=env)  # fmt: skip
            yield devcloud, operator
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
            devcloud.down()
            if logs is not None:
                shutil.copytree(devcloud.log_dir, logs, dirs_exist_ok=True)
            devcloud.destroy()
