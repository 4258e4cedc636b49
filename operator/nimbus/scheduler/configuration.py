"""The KubeSchedulerConfiguration of the nimbus-scheduler: a kube-scheduler process of its own
(extenders apply to every profile of a process), one profile `nimbus-scheduler`, its own
leader-election lock, every node scored, kube-scheduler's own scoring off so that Nova's weighed
order decides, and the extender not ignorable: no placement, no scheduling."""

from __future__ import annotations

from typing import Any

SCHEDULER_NAME = "nimbus-scheduler"


def kube_scheduler_configuration(
    extender_url: str,
    *,
    kubeconfig: str | None = None,
    leader_elect: bool = True,
    namespace: str = "kube-system",
    timeout: str = "5s",
) -> dict[str, Any]:
    configuration: dict[str, Any] = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "leaderElection": {
            "leaderElect": leader_elect,
            "resourceName": SCHEDULER_NAME,
            "resourceNamespace": namespace,
        },
        "percentageOfNodesToScore": 100,
        "profiles": [
            {
                "schedulerName": SCHEDULER_NAME,
                # Nova's weighers decide: the extender's score is the only one.
                "plugins": {
                    "preScore": {"disabled": [{"name": "*"}]},
                    "score": {"disabled": [{"name": "*"}]},
                },
            }
        ],
        "extenders": [
            {
                "urlPrefix": extender_url,
                "filterVerb": "filter",
                "prioritizeVerb": "prioritize",
                "weight": 1,
                "nodeCacheCapable": True,
                "httpTimeout": timeout,
                "ignorable": False,
            }
        ],
    }
    if kubeconfig:
        configuration["clientConnection"] = {"kubeconfig": kubeconfig}
    return configuration
