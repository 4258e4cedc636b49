"""Who asked, and whether they may: what the operator makes on a user's behalf is checked with a
SubjectAccessReview for that user, so the operator's own rights never stand in for theirs (a
project member's Stack cannot make the public Flavor the member may not).

The requester of a change is recorded on the object by the admission webhook (a mutating step,
from the API server's own account of who sent the request), in the annotation REQUESTER; users
cannot write it, since the webhook sets it on every create and change of spec and keeps it on
any other update. Only the operator itself, making a nested Stack for its parent, passes the
parent's requester on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

REQUESTER = "nimbus.dev/requester"


@dataclasses.dataclass(frozen=True)
class Requester:
    """A user as the API server authenticated them (an AdmissionReview's userInfo)."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, userinfo: Mapping[str, Any]) -> Requester:
        extra = userinfo.get("extra") or {}
        return cls(
            username=str(userinfo.get("username") or ""),
            uid=str(userinfo.get("uid") or ""),
            groups=tuple(str(g) for g in userinfo.get("groups") or ()),
            extra=tuple(sorted((str(k), tuple(map(str, v))) for k, v in extra.items())),
        )

    @classmethod
    def recorded(cls, obj: Mapping[str, Any]) -> Requester | None:
        """The requester recorded on an object, if any (and if it reads)."""
        text = ((obj.get("metadata") or {}).get("annotations") or {}).get(REQUESTER)
        if not text:
            return None
        try:
            found = json.loads(text)
        except ValueError:
            return None
        return cls.of(found) if isinstance(found, dict) and found.get("username") else None

    def annotation(self) -> str:
        info: dict[str, Any] = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra}
        return json.dumps(info, sort_keys=True, separators=(",", ":"))


@dataclasses.dataclass(frozen=True, order=True)
class Access:
    """One thing to be allowed: a verb on a kind, in a namespace (None: cluster-wide)."""

    verb: str
    group: str
    resource: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        return f"{self.verb} {self.resource}.{self.group} {where}"


def review(requester: Requester, access: Access) -> dict[str, Any]:
    """The SubjectAccessReview asking whether `requester` may do `access`."""
    attributes = {"verb": access.verb, "group": access.group, "resource": access.resource}
    if access.namespace:
        attributes["namespace"] = access.namespace
    spec: dict[str, Any] = {
        "user": requester.username,
        "groups": list(requester.groups),
        "resourceAttributes": attributes,
    }
    if requester.uid:
        spec["uid"] = requester.uid
    if requester.extra:
        spec["extra"] = {k: list(v) for k, v in requester.extra}
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {},
        "spec": spec,
    }


async def denied(api: Any, requester: Requester, accesses: Iterable[Access]) -> list[Access]:
    """What of `accesses` the requester may not do (asked of the API server's authorizers)."""
    wanted = sorted(set(accesses))
    answers = await asyncio.gather(*(api.create(review(requester, a)) for a in wanted))
    return [a for a, got in zip(wanted, answers, strict=True)
            if not (got.get("status") or {}).get("allowed")]  # fmt: skip


async def whoami(api: Any) -> str:
    """The operator's own user name (a SelfSubjectReview), or "" where it cannot be asked."""
    try:
        got = await api.create(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
             "metadata": {}}
        )  # fmt: skip
    except Exception:  # an API server without it: no user is taken for the operator
        return ""
    return str(((got.get("status") or {}).get("userInfo") or {}).get("username") or "")
