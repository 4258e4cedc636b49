"""SIMULATORS of the controllers that cannot run on a machine without a container runtime.

They do to the objects what the real controllers do, and only that, so that Nimbus's operator
can be exercised end to end against a real API server:

- CDI's data path (cdi.py), while CDI's own cdi-apiserver and cdi-controller run (cluster.py)
  and KWOK stages finish their importer, clone-source and upload-server pods: the upload server
  of a clone is marked done once its source pod has sent everything.
- a CSI provisioner (csi.py): a pending PVC gets a PersistentVolume, which
  kube-controller-manager binds; a larger request resizes it.
- KubeVirt's node side (kubevirt.py): virt-handler, while KubeVirt's own virt-api and
  virt-controller run (cluster.py): an instance scheduled on a KWOK node starts Running with the
  addresses of its cloud-init network data; one being deleted shuts down; each node carries the
  handler's heartbeat; virt-api's pause and unpause reach the handler over mutual TLS.
- external-snapshotter (snapshots.py): a VolumeSnapshot becomes readyToUse with its claim's size.

Each handler does the next step and returns; the status it writes brings the next event.
Run with `nimbus devcloud simulate`; `nimbus devcloud up` starts it beside the control plane.
This module is the runner: one kopf process for them all, with one API client in its memo.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from nimbus.k8s import client

# Importing a simulator registers its handlers with kopf.
from . import cdi, csi, kubevirt, snapshots  # noqa: F401


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
    memo.handler, memo.handler_server = None, None
    handler = kubevirt.environment()
    if handler is not None:
        address, certs, kubeconfig = handler
        memo.handler = client.Client(client.load_credentials(kubeconfig))
        memo.handler_server = await kubevirt.serve(memo.api, memo.handler, address, certs)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    if memo.get("handler_server") is not None:
        await memo.handler_server.cleanup()
        await memo.handler.close()
    await memo.api.close()


def run() -> None:
    """Run the simulators until interrupted."""
    logging.getLogger("kopf").setLevel(logging.WARNING)
    kopf.run(standalone=True, clusterwide=True)
