"""SIMULATORS of the controllers that cannot run on a machine without a container runtime.

They do to the objects what the real controllers do, and only that, so that Nimbus's operator
can be exercised end to end against a real API server:

- CDI (cdi.py): a DataVolume gets its PVC, then imports with progress to Succeeded (a clone once
  its source exists); an http URL whose host is under the reserved `.invalid` domain (RFC 2606)
  fails as an unreachable one would. Nothing is downloaded: no request leaves the machine.
- a CSI provisioner (csi.py): a pending PVC gets a PersistentVolume, which
  kube-controller-manager binds; a larger request resizes it.
- KubeVirt (kubevirt.py): a VirtualMachine that should run gets its DataVolumes, a
  VirtualMachineInstance and a virt-launcher pod carrying the template's labels, annotations,
  schedulerName and nodeSelector; the real kube-scheduler places the pod on a KWOK node; the VMI
  then reports Running with the node and the addresses of its cloud-init network data. Halted
  removes the VMI and the pod.
- external-snapshotter (snapshots.py): a VolumeSnapshot becomes readyToUse with its claim's size.
- KubeVirt's virt-api (virt_api.py): the aggregated API subresources.kubevirt.io/v1, its pause
  and unpause of a running VMI (the Paused condition, and the VM's printableStatus Paused),
  served over TLS on 127.0.0.1 to the API server alone (its front-proxy client certificate),
  which has checked the caller's RBAC before it proxies.

Each handler does the next step and returns; the status it writes brings the next event.
Run with `nimbus devcloud simulate`; `nimbus devcloud up` starts it beside the control plane.
This module is the runner: one kopf process for them all, with one API client in its memo.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from nimbus.k8s import client

# Importing a simulator registers its handlers with kopf.
from . import cdi, csi, kubevirt, snapshots, virt_api  # noqa: F401


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="simulator.nimbus.dev"
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="simulator.nimbus.dev"
    )
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    memo.api = client.Client(client.load_credentials())
    address = os.environ.get("NIMBUS_VIRT_API_ADDRESS")
    memo.virt_api = await virt_api.serve(memo.api, address) if address else None


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    if memo.get("virt_api") is not None:
        await memo.virt_api.cleanup()
    await memo.api.close()


def run() -> None:
    """Run the simulators until interrupted."""
    logging.getLogger("kopf").setLevel(logging.WARNING)
    kopf.run(standalone=True, clusterwide=True)
