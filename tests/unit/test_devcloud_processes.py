"""How the devcloud tells its own processes apart: by the kernel's name, from the moment of exec."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

from nimbus.devcloud import cluster


def _named_sleep(tmp_path: pathlib.Path, name: str) -> pathlib.Path:
    sleep = shutil.which("sleep")
    assert sleep is not None
    binary = tmp_path / name
    shutil.copy(sleep, binary)
    return binary


def test_a_process_is_ours_from_the_moment_popen_returns(tmp_path: pathlib.Path) -> None:
    """/proc/<pid>/cmdline is empty for a moment after exec; the check must not depend on it."""
    binary = _named_sleep(tmp_path, "kube-controller-manager")  # longer than the kernel's 15
    for _ in range(50):
        process = subprocess.Popen([str(binary), "30"], start_new_session=True)
        try:
            assert cluster._alive(process.pid, "kube-controller-manager")
            assert not cluster._alive(process.pid, "kube-scheduler")
        finally:
            process.kill()
            process.wait()


def test_a_stopped_process_is_not_alive(tmp_path: pathlib.Path) -> None:
    binary = _named_sleep(tmp_path, "etcd")
    process = subprocess.Popen([str(binary), "30"], start_new_session=True)
    assert cluster._alive(process.pid, "etcd")
    cluster._stop(process.pid)
    assert cluster._zombie(process.pid)
    assert not cluster._alive(process.pid, "etcd")
    process.wait()
    assert cluster._stat(process.pid) is None


def test_free_ports_are_distinct() -> None:
    """Picked together, the control plane's ports never repeat (etcd's client and peer ports
    were once the same, and etcd exited)."""
    ports = cluster._free_ports(200)
    assert len(set(ports)) == 200
    assert all(1024 < port < 65536 for port in ports)
