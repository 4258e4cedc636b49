"""Validate rendered objects against the upstream CRD schemas, with unknown fields forbidden.

The published schemas are lenient: no object schema forbids unknown fields (the API server
prunes them silently), so a typo such as `cpu.core` would pass. Here every object schema with
properties and no x-kubernetes-preserve-unknown-fields gets additionalProperties: false.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import jsonschema
import yaml

UPSTREAM = pathlib.Path(__file__).resolve().parents[1] / "operator/nimbus/devcloud/upstream"


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "x-kubernetes-int-or-string" in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _validator(group: str, kind: str, version: str) -> jsonschema.Draft4Validator:
    for path in UPSTREAM.rglob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        if crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind:
            for served in crd["spec"]["versions"]:
                if served["name"] == version:
                    schema = _strict(served["schema"]["openAPIV3Schema"])
                    # metadata is the API server's to check, not the CRD's
                    schema["properties"]["metadata"] = {"type": "object"}
                    return jsonschema.Draft4Validator(schema)
    raise LookupError(f"no upstream CRD for {group}/{version} {kind}")


def errors(obj: dict[str, Any]) -> list[str]:
    """Every way `obj` breaks its upstream schema, as `path: message` lines."""
    group, _, version = obj["apiVersion"].rpartition("/")
    validator = _validator(group, obj["kind"], version)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(obj)
    ]


def assert_valid(obj: dict[str, Any]) -> None:
    problems = errors(obj)
    assert not problems, "\n".join(problems)
