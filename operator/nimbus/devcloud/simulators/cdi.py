"""CDI's data path, simulated. CDI's own cdi-apiserver and cdi-controller run (cluster.py): they
admit DataVolumes, make their claims and the worker pods that would move the bytes, and read
those pods' termination messages. KWOK stages finish the pods (devcloud/stages/cdi.yaml); what
they cannot see is one pod waiting on another: the upload server of a host-assisted clone is
done when its source pod has sent everything. This marks it so (the stream's end), and the
stage then completes it. Nothing is downloaded or copied."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus.runtime import retrying

RECEIVED = "simulator.nimbus.dev/received"


@kopf.on.event("", "v1", "pods", labels={"cdi.kubevirt.io": "cdi-clone-source"})
@retrying.retried
async def clone_source(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if (body.get("status") or {}).get("phase") != "Succeeded":
        return
    # cdi-controller names the source pod after the target claim's uid, which labels the
    # upload server receiving it.
    target = body["metadata"]["name"].removesuffix("-source-pod")
    for pod in await memo.api.list(
        "v1", "Pod", label_selector=f"cdi.kubevirt.io/uploadTarget={target}"
    ):
        if (pod["metadata"].get("annotations") or {}).get(RECEIVED) != "true":
            await memo.api.patch(
                "v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"],
                {"metadata": {"annotations": {RECEIVED: "true"}}},
            )  # fmt: skip
