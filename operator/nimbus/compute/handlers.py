"""kopf handlers of compute.nimbus.dev: thin; the thinking is in render.py and status.py."""

from __future__ import annotations

import base64
from typing import Any

import kopf

from nimbus import meta, reporting
from nimbus.compute import api, keypairs
from nimbus.conditions import Condition
from nimbus.k8s import client


@kopf.on.resume(api.GROUP, meta.VERSION, "flavors")
@kopf.on.create(api.GROUP, meta.VERSION, "flavors")
@kopf.on.update(api.GROUP, meta.VERSION, "flavors")
async def flavor(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A flavor is data: it is ready as soon as the API server has accepted it."""
    await reporting.report(memo.api, dict(body), wanted=[])


def private_key_secret_name(keypair: str) -> str:
    return f"{keypair}-private-key"


@kopf.on.resume(api.GROUP, meta.VERSION, "keypairs")
@kopf.on.create(api.GROUP, meta.VERSION, "keypairs")
@kopf.on.update(api.GROUP, meta.VERSION, "keypairs")
async def keypair(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Nova's fingerprint of an imported key; or a generated key, its private half in a Secret."""
    resource = api.KeyPair.model_validate(dict(body))
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    fields: dict[str, Any] = {}
    public_key = resource.spec.public_key
    if public_key is None:
        public_key, secret = await _generated_key(memo.api, dict(body), name, namespace)
        fields["privateKeySecret"] = secret
    try:
        fields["fingerprint"] = keypairs.fingerprint(public_key, resource.spec.type)
    except keypairs.InvalidKeyError as error:
        await reporting.report(
            memo.api, dict(body), wanted=[Condition("KeyValid", "False", "InvalidKey", str(error))]
        )
        raise kopf.PermanentError(str(error)) from None
    fields["publicKey"] = public_key
    await reporting.report(
        memo.api, dict(body), fields=fields, wanted=[Condition("KeyValid", "True", "KeyValid")]
    )


async def _generated_key(
    api_client: client.Client, body: dict[str, Any], name: str, namespace: str
) -> tuple[str, str]:
    """The generated public key: made once, its Secret then being the only record of it."""
    secret_name = private_key_secret_name(name)
    secret = await api_client.get("v1", "Secret", secret_name, namespace)
    if secret is not None:
        return base64.b64decode(secret["data"]["public_key"]).decode(), secret_name
    recorded = (body.get("status") or {}).get("publicKey")
    if recorded:  # the user took the private key and deleted the Secret, as intended
        return str(recorded), secret_name
    private_key, public_key = keypairs.generate(f"{name}@{namespace}")
    await api_client.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret_name,
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "nimbus",
                    "compute.nimbus.dev/keypair": name,
                },
                "ownerReferences": [client.owner_reference(body)],
            },
            "type": "Opaque",
            "stringData": {"private_key": private_key, "public_key": public_key},
        }
    )
    return public_key, secret_name
