"""OpenStack's error documents, per service, as clients parse them.

Nova, Cinder and Glance: `{"<faultName>": {"code": ..., "message": ...}}`; Keystone:
`{"error": {"code": ..., "title": ..., "message": ...}}`; Neutron:
`{"NeutronError": {"type": ..., "message": ..., "detail": ""}}`; Heat: `{"code": ...,
"title": ..., "explanation": ..., "error": {"type": ..., "message": ..., "traceback": null}}`
(python-heatclient reads `error.message`); Octavia: WSME's `{"faultcode": "Client" | "Server",
"faultstring": ..., "debuginfo": null}` (python-octaviaclient reads `faultstring`). Pure: app.py
answers them."""

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
# HTTP status -> webob's title and explanation, and the exception Heat names by default.
HEAT_ERRORS = {
    400: ("Bad Request", "The server could not comply with the request since it is either "
          "malformed or otherwise incorrect.", "HTTPBadRequest"),
    401: ("Unauthorized", "This server could not verify that you are authorized to access the "
          "document you requested.", "HTTPUnauthorized"),
    403: ("Forbidden", "Access was denied to this resource.", "Forbidden"),
    404: ("Not Found", "The resource could not be found.", "HTTPNotFound"),
    405: ("Method Not Allowed", "The method is not allowed for this resource.",
          "HTTPMethodNotAllowed"),
    409: ("Conflict", "There was a conflict when trying to complete your request.",
          "HTTPConflict"),
    413: ("Request Entity Too Large", "The body of your request was too large for this server.",
          "RequestLimitExceeded"),
    501: ("Not Implemented", "The request method is not implemented for this server.",
          "HTTPNotImplemented"),
}  # fmt: skip
NEUTRON_TYPES = {
    400: "BadRequest", 401: "NotAuthorized", 403: "Forbidden", 404: "NotFound",
    409: "Conflict", 501: "NotImplemented",
}  # fmt: skip


class Fault(Exception):  # noqa: N818 -- OpenStack calls these fault documents
    """An error to answer in the service's own shape (`style`: nova, keystone, neutron, heat,
    octavia; `kind`: Neutron's type, Heat's exception name)."""

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
        if self.style == "heat":
            title, explanation, kind = HEAT_ERRORS.get(self.code, (
                "Internal Server Error", "The server has either erred or is incapable of "
                "performing the requested operation.", "HTTPInternalServerError"))  # fmt: skip
            return {"code": self.code, "title": title, "explanation": explanation,
                    "error": {"type": self.kind or kind, "message": self.message,
                              "traceback": None}}  # fmt: skip
        if self.style == "octavia":
            return {"faultcode": "Client" if self.code < 500 else "Server",
                    "faultstring": self.message, "debuginfo": None}  # fmt: skip
        name = NOVA_FAULTS.get(self.code, "computeFault")
        return {name: {"code": self.code, "message": self.message}}


UNAUTHORIZED = "The request you have made requires authentication."


def invalid(path: str, value: object, why: str) -> Fault:
    """Nova's 400 for a body its JSON schema refuses."""
    return Fault(400, f"Invalid input for field/attribute {path}. Value: {value}. {why}")
