"""OpenStack's error documents, per service, as clients parse them.

Nova, Cinder, Glance and Heat: `{"<faultName>": {"code": ..., "message": ...}}`; Keystone:
`{"error": {"code": ..., "title": ..., "message": ...}}`; Neutron:
`{"NeutronError": {"type": ..., "message": ..., "detail": ""}}`. Pure: app.py answers them."""

from __future__ import annotations

from typing import Any

# HTTP status -> Nova's fault name (what python-novaclient and Horizon read).
NOVA_FAULTS = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
    405: "badMethod", 409: "conflict", 413: "overLimit", 415: "badMediaType",
    429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable",
}  # fmt: skip
KEYSTONE_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    409: "Conflict", 501: "Not Implemented",
}  # fmt: skip
NEUTRON_TYPES = {
    400: "BadRequest", 401: "NotAuthorized", 403: "Forbidden", 404: "NotFound",
    409: "Conflict", 501: "NotImplemented",
}  # fmt: skip


class Fault(Exception):  # noqa: N818 -- OpenStack calls these fault documents
    """An error to answer in the service's own shape (`style`: nova, keystone, neutron)."""

    def __init__(self, code: int, message: str, *, style: str = "nova", kind: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.style, self.kind = code, message, style, kind

    def document(self) -> dict[str, Any]:
        if self.style == "keystone":
            title = KEYSTONE_TITLES.get(self.code, "Error")
            return {"error": {"code": self.code, "title": title, "message": self.message}}
        if self.style == "neutron":
            kind = self.kind or NEUTRON_TYPES.get(self.code, "NeutronError")
            return {"NeutronError": {"type": kind, "message": self.message, "detail": ""}}
        name = NOVA_FAULTS.get(self.code, "computeFault")
        return {name: {"code": self.code, "message": self.message}}


UNAUTHORIZED = "The request you have made requires authentication."


def invalid(path: str, value: object, why: str) -> Fault:
    """Nova's 400 for a body its JSON schema refuses."""
    return Fault(400, f"Invalid input for field/attribute {path}. Value: {value}. {why}")
