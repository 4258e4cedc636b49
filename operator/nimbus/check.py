"""`nimbus check`: what the Helm chart's test hook runs against an installed Nimbus.

- Every Nimbus CRD exists, is Established and serves its kind.
- The API refuses a bad object with the field's message (a dry-run create of a Flavor with 0
  vCPUs).
- With --webhook: the admission webhook answers. A dry-run create of a Server in the given
  namespace (not a project's: the webhook lets it pass) goes through the webhook; with its
  failurePolicy Fail, an unreachable webhook fails the create.
"""

from __future__ import annotations

import asyncio
import sys

from nimbus.api import kinds
from nimbus.k8s import client

CRDS = "apiextensions.k8s.io/v1"


async def _check(namespace: str, webhook: bool) -> list[str]:
    problems: list[str] = []
    async with client.Client(client.load_credentials(), kinds=kinds.table()) as api:
        for kind in kinds.ALL:
            name = f"{kind.plural}.{kind.group}"
            crd = await api.get(CRDS, "CustomResourceDefinition", name)
            conditions = {c["type"]: c["status"] for c in ((crd or {}).get("status") or {})
                          .get("conditions") or []}  # fmt: skip
            if crd is None:
                problems.append(f"CRD {name} is missing")
            elif conditions.get("Established") != "True":
                problems.append(f"CRD {name} is not Established")
        flavor = {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Flavor",
                  "metadata": {"name": "nimbus-check"},
                  "spec": {"vcpus": 0, "ramMB": 512}}  # fmt: skip
        try:
            await api.create(flavor, dry_run=True)
            problems.append("a Flavor with 0 vCPUs was accepted")
        except client.ApiError as error:
            if "spec.vcpus" not in str(error):
                problems.append(f"a Flavor with 0 vCPUs was refused, but not by field: {error}")
        if webhook:
            server = {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                      "metadata": {"name": "nimbus-check", "namespace": namespace},
                      "spec": {"flavor": "m1.tiny", "image": {"name": "cirros"}}}  # fmt: skip
            try:
                await api.create(server, dry_run=True)
            except client.ApiError as error:
                problems.append(f"the admission webhook did not let a Server through: {error}")
    return problems


def run(namespace: str, webhook: bool) -> int:
    problems = asyncio.run(_check(namespace, webhook))
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    checked = len(kinds.ALL)
    if not problems:
        print(f"ok: {checked} CRDs established, schema refuses, "
              f"webhook {'answers' if webhook else 'not checked'}")  # fmt: skip
    return 1 if problems else 0
