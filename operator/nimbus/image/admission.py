"""Images' admission, in Glance's words: only an admin makes an image public."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus.identity import authz, roles


@kopf.on.validate("image.nimbus.dev", "v1alpha1", "images", id="images",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_image(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Glance's publicize_image: only an admin makes an image public, since every project then
    sees it. Here: whoever may `publicize` images cluster-wide (cluster admins, and those bound
    to the ClusterRole nimbus-image-publisher)."""
    old = kwargs.get("old") or {}
    if (body.get("spec") or {}).get("visibility") != "public":
        return
    if (old.get("spec") or {}).get("visibility") == "public":
        return  # it was public already
    access = authz.Access("publicize", "image.nimbus.dev", "images")
    if await authz.denied(memo.api, authz.Requester.of(userinfo), [access]):
        raise kopf.AdmissionError(
            "spec.visibility: public: Forbidden: You are not authorized to complete "
            "publicize_image action. Only an admin may make an image public (the verb "
            f"publicize on images.image.nimbus.dev, in the ClusterRole "
            f"{roles.IMAGE_PUBLISHER}); use visibility: shared with members to give it to some "
            "projects",
            code=403,
        )
