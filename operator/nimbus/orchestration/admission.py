"""Stacks' admission: who asked (recorded by a mutating step), a template Heat would refuse (its
reason), a template over Heat's size, and kinds the requester may not make
(SubjectAccessReviews: the operator's rights are not theirs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import kopf

from nimbus.identity import authz
from nimbus.identity.admission import changed, project_of
from nimbus.orchestration import plan as orchestration
from nimbus.orchestration.hot import template as hot_template
from nimbus.runtime import cache

# Heat's max_template_size; and what a Stack may hold in all, well inside etcd's 1.5 MiB for
# one object (the API server stores a Stack whole, with its status).
MAX_TEMPLATE_BYTES = 524288
MAX_STACK_BYTES = 1024 * 1024


def _size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else len(json.dumps(value).encode())


def stack_too_big(spec: Mapping[str, Any]) -> str | None:
    """Heat's refusal of a template over max_template_size, and ours of a Stack too big to be
    kept as one object."""
    template = _size(spec.get("template"))
    if template > MAX_TEMPLATE_BYTES:
        return (
            f"spec.template: Template size ({template} bytes) exceeds maximum allowed size "
            f"({MAX_TEMPLATE_BYTES} bytes): Heat's max_template_size. Split it into nested "
            "stacks (OS::Heat::Stack, or template resources in spec.files)"
        )
    total = sum(_size(spec.get(k) or {}) for k in ("template", "files", "environment",
                                                   "parameters"))  # fmt: skip
    if total > MAX_STACK_BYTES:
        return (
            f"spec: the Stack's template, files, environment and parameters are {total} bytes; "
            f"at most {MAX_STACK_BYTES} bytes are taken, since the API server keeps a Stack as "
            "one object in etcd (1.5 MiB at most, status included). Split it into nested stacks"
        )
    return None


async def _operator_user(memo: kopf.Memo) -> str:
    if memo.get("operator_user") is None:
        memo.operator_user = await authz.whoami(memo.api)
    return str(memo.operator_user)


@kopf.on.mutate("orchestration.nimbus.dev", "v1alpha1", "stacks", id="stacks-requester",
                operations=["CREATE", "UPDATE"])  # fmt: skip
async def record_requester(
    body: kopf.Body, patch: kopf.Patch, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Who asked for a Stack (or its change of spec), from the API server's own account, so its
    controller makes only what that user may. The annotation is the webhook's alone: set on a
    create and a change of spec, kept as it was on any other update."""
    operation, old = kwargs.get("operation", ""), kwargs.get("old")
    annotations = dict(body["metadata"].get("annotations") or {})
    given = annotations.get(authz.REQUESTER)
    if given and userinfo.get("username") == await _operator_user(memo):
        return  # the operator makes a nested stack for its parent's requester
    if operation == "CREATE" or (old or {}).get("spec") != body.get("spec"):
        wanted: str | None = authz.Requester.of(userinfo).annotation()
    else:
        wanted = ((old or {}).get("metadata", {}).get("annotations") or {}).get(authz.REQUESTER)
    if wanted != given:
        patch.metadata.setdefault("annotations", {})[authz.REQUESTER] = wanted


@kopf.on.validate("orchestration.nimbus.dev", "v1alpha1", "stacks", id="stacks",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_stack(
    body: kopf.Body, dryrun: bool, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A Stack whose template, parameters or resource types Heat would refuse is refused here,
    with Heat's reason, before anything is made; so is one making what its user may not make
    (a SubjectAccessReview per kind and namespace: the operator's rights are not theirs)."""
    operation, old, new = kwargs.get("operation", ""), kwargs.get("old"), kwargs.get("new")
    view = cache.View.of(kwargs, memo)
    namespace = str(body["metadata"].get("namespace"))
    if not changed(operation, old, new or dict(body)):
        return
    too_big = stack_too_big(body.get("spec") or {})
    if too_big:
        raise kopf.AdmissionError(too_big, code=413)
    if project_of(view, namespace) is None:
        return
    stack = {**dict(body), "metadata": {**dict(body["metadata"]), "uid":
                                        body["metadata"].get("uid") or "validating"}}  # fmt: skip
    try:
        plan = orchestration.Plan(stack, view)
    except hot_template.HotError as error:
        raise kopf.AdmissionError(f"spec.template: {error}") from None
    if userinfo.get("username") == await _operator_user(memo):
        return  # a nested stack: its parent was checked for its requester
    refusal = await plan.refusal(memo.api, authz.Requester.of(userinfo))
    if refusal is not None:
        raise kopf.AdmissionError(f"spec.template: {refusal}", code=403)
