"""Nova v2.1 over Server, Flavor and the project's objects, with microversions up to MAX.

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, and another project's server is a 404 as in Nova."""

from __future__ import annotations

import asyncio
import datetime
import re
from typing import Any

from aiohttp import web

from nimbus.api import meta
from nimbus.compute import keypairs, lifecycle
from nimbus.identity import api as identity_api
from nimbus.k8s import client
from nimbus.openstack import documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
MIN, MAX = (2, 1), (2, 96)
COMPUTE = "compute.nimbus.dev/v1alpha1"
IMAGES = "image.nimbus.dev/v1alpha1"
VOLUMES = "blockstorage.nimbus.dev/v1alpha1"
NETWORKS = "network.nimbus.dev/v1alpha1"
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def _services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def microversion(request: web.Request) -> tuple[int, int]:
    """The microversion asked for (OpenStack-API-Version: compute X, or Nova's own header);
    2.1 when none; Nova's 406 outside MIN..MAX."""
    asked = None
    for part in request.headers.getall("OpenStack-API-Version", []):
        service, _, value = part.strip().partition(" ")
        if service.lower() == "compute":
            asked = value.strip()
    asked = asked or request.headers.get("X-OpenStack-Nova-API-Version")
    if not asked:
        return MIN
    if asked == "latest":
        return MAX
    match = _VERSION.match(asked)
    version = (int(match[1]), int(match[2])) if match else None
    if version is None or not MIN <= version <= MAX:
        raise Fault(406, f"Version {asked} is not supported by the API. Minimum is "
                    f"{MIN[0]}.{MIN[1]} and maximum is {MAX[0]}.{MAX[1]}.")  # fmt: skip
    return version


def _respond(document: Any, version: tuple[int, int], status: int = 200) -> web.Response:
    text = f"{version[0]}.{version[1]}"
    return web.json_response(document, status=status, headers={
        "OpenStack-API-Version": f"compute {text}", "X-OpenStack-Nova-API-Version": text,
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    })  # fmt: skip


def base_url(request: web.Request) -> str:
    return _services(request).config.public_url.rstrip("/") + "/compute/v2.1"


def _version_document(request: web.Request) -> dict[str, Any]:
    return {
        "id": "v2.1", "status": "CURRENT", "version": f"{MAX[0]}.{MAX[1]}",
        "min_version": f"{MIN[0]}.{MIN[1]}", "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": base_url(request) + "/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2.1"}],
    }  # fmt: skip


@routes.get("/compute")
@routes.get("/compute/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version_document(request)]})


@routes.get("/compute/v2.1")
@routes.get("/compute/v2.1/")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": _version_document(request)})


async def _identity(request: web.Request) -> Identity:
    return await _services(request).verify(request.headers.get("X-Auth-Token"))


async def _servers(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    kube = _services(request).as_user(identity)
    return await kube.list(COMPUTE, "Server", identity.namespace)


async def _context(request: web.Request, identity: Identity) -> dict[str, Any]:
    """What server documents refer to: flavors by name, the project's images and volumes."""
    kube = _services(request).as_user(identity)
    flavors = {f["metadata"]["name"]: f for f in await kube.list(COMPUTE, "Flavor")}
    images = {i["metadata"]["name"]: i for i in await kube.list(IMAGES, "Image",
                                                                identity.namespace)}  # fmt: skip
    volumes = {v["metadata"]["name"]: v for v in await kube.list(VOLUMES, "Volume",
                                                                 identity.namespace)}  # fmt: skip
    return {"flavors": flavors, "images": images, "volumes": volumes}


def _document(
    request: web.Request, identity: Identity, server: dict[str, Any], context: dict[str, Any],
    version: tuple[int, int],
) -> dict[str, Any]:  # fmt: skip
    spec, status = server.get("spec") or {}, server.get("status") or {}
    flavor_name = (status.get("built") or {}).get("flavor") or spec.get("flavor")
    image_name = (spec.get("image") or {}).get("name")
    return documents.server(
        server,
        flavor=context["flavors"].get(flavor_name or ""),
        image=context["images"].get(image_name or ""),
        project_id=str(identity.project["metadata"]["uid"]) if identity.project else "",
        user_id=identity.user_id,
        admin=identity.admin,
        version=version,
        base_url=base_url(request),
        volumes=context["volumes"],
    )


def _matches(server: dict[str, Any], query: Any) -> bool:
    """Nova's list filters that the clients send: name (a regular expression), status."""
    name = query.get("name")
    if name and not re.search(name, documents.display_name(server)):
        return False
    wanted = query.get("status")
    return not wanted or (server.get("status") or {}).get("status") == wanted.upper()


@routes.get("/compute/v2.1/servers")
async def list_servers(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    servers = [s for s in await _servers(request, identity) if _matches(s, request.query)]
    briefs = [documents.server_brief(s, base_url=base_url(request)) for s in servers]
    return _respond({"servers": briefs}, version)


@routes.get("/compute/v2.1/servers/detail")
async def list_servers_detail(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    servers = [s for s in await _servers(request, identity) if _matches(s, request.query)]
    context = await _context(request, identity)
    details = [_document(request, identity, s, context, version) for s in servers]
    return _respond({"servers": details}, version)


async def _server(request: web.Request, identity: Identity) -> dict[str, Any]:
    wanted = request.match_info["server_id"]
    found = next(
        (s for s in await _servers(request, identity) if s["metadata"]["uid"] == wanted), None
    )
    if found is None:
        raise Fault(404, f"Instance {wanted} could not be found.")
    return found


@routes.get("/compute/v2.1/servers/{server_id}")
async def show_server(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    server = await _server(request, identity)
    context = await _context(request, identity)
    return _respond({"server": _document(request, identity, server, context, version)}, version)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Fault(400, "Malformed request body") from None


class _Resolver:
    """documents.Resolver over what the caller may list in their project: an OpenStack id
    (uid) or name -> the Kubernetes name."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects

    def _find(self, kind: str, ref: str) -> str | None:
        for body in self.objects[kind]:
            if ref in (body["metadata"]["uid"], body["metadata"]["name"]):
                return str(body["metadata"]["name"])
        return None

    def flavor(self, ref: str) -> str | None:
        return self._find("flavors", ref)

    def image(self, ref: str) -> str | None:
        return self._find("images", ref)

    def network(self, ref: str) -> str | None:
        return self._find("networks", ref)

    def port(self, ref: str) -> str | None:
        return self._find("ports", ref)

    def volume(self, ref: str) -> str | None:
        return self._find("volumes", ref)


@routes.post("/compute/v2.1/servers")
async def create_server(request: web.Request) -> web.Response:
    """Nova's boot: a Server object per instance asked for (min_count..max_count, named as Nova
    names them: name-1, name-2 ...), made as the caller; the operator does the rest."""
    version = microversion(request)
    identity = await _identity(request)
    namespace = identity.namespace
    kube = _services(request).as_user(identity)
    body = await _body(request)
    listed = await asyncio.gather(
        kube.list(COMPUTE, "Flavor"), kube.list(IMAGES, "Image", namespace),
        kube.list(NETWORKS, "Network", namespace), kube.list(NETWORKS, "Port", namespace),
        kube.list(VOLUMES, "Volume", namespace), kube.list(COMPUTE, "Server", namespace),
    )  # fmt: skip
    kinds = ("flavors", "images", "networks", "ports", "volumes", "servers")
    objects = dict(zip(kinds, listed, strict=True))
    try:
        display, spec = documents.server_create(body, resolve=_Resolver(objects))
        _, count = documents.counts(body)
    except documents.BadRequest as refused:
        raise Fault(400, refused.message) from None
    taken = {s["metadata"]["name"] for s in objects["servers"]}
    made = []
    for index in range(count):
        shown = display if count == 1 else f"{display}-{index + 1}"
        name = documents.kube_name(shown, taken)
        taken.add(name)
        metadata: dict[str, Any] = {"name": name, "namespace": namespace}
        if name != shown:
            metadata["annotations"] = {documents.NAME_ANNOTATION: shown}
        made.append(await kube.create(
            {"apiVersion": COMPUTE, "kind": "Server", "metadata": metadata, "spec": spec}
        ))  # fmt: skip
    first = made[0]
    document = {
        "id": first["metadata"]["uid"],
        "links": documents.links(base_url(request), "servers", first["metadata"]["uid"]),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": g} for g in spec.get("securityGroups") or ["default"]],
    }
    return _respond({"server": document}, version, status=202)


@routes.delete("/compute/v2.1/servers/{server_id}")
async def delete_server(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    server = await _server(request, identity)
    kube = _services(request).as_user(identity)
    await kube.delete(COMPUTE, "Server", server["metadata"]["name"], identity.namespace)
    response = _respond(None, version, status=204)
    response.body = b""
    return response


# -- flavors ----------------------------------------------------------------------------------


async def _flavors(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    kube = _services(request).as_user(identity)
    return await kube.list(COMPUTE, "Flavor")


@routes.get("/compute/v2.1/flavors")
@routes.get("/compute/v2.1/flavors/detail")
async def list_flavors(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    flavors = [documents.flavor(f, base_url=base_url(request), version=version)
               for f in await _flavors(request, identity)]  # fmt: skip
    if not request.path.endswith("/detail"):
        flavors = [{"id": f["id"], "name": f["name"], "links": f["links"],
                    **({"description": f.get("description")} if version >= (2, 55) else {})}
                   for f in flavors]  # fmt: skip
    return _respond({"flavors": flavors}, version)


@routes.get("/compute/v2.1/flavors/{flavor_id}")
async def show_flavor(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    wanted = request.match_info["flavor_id"]
    found = next((f for f in await _flavors(request, identity)
                  if wanted in (f["metadata"]["uid"], f["metadata"]["name"])), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"Flavor {wanted} could not be found.")
    return _respond(
        {"flavor": documents.flavor(found, base_url=base_url(request), version=version)}, version
    )


# -- server actions ---------------------------------------------------------------------------
# Kubernetes has no verbs for Nova's actions: each is a merge patch of the Server that asks the
# operator for it (docs/compute.md): spec.powerState, the reboot annotations, spec.flavor,
# spec.image. The state checks are Nova's (nova.compute.api's check_instance_state).

_ANY_TASK = frozenset({None})
# Nova lets a hard reboot through these task states (nova.compute.api.reboot).
_HARD_REBOOT_TASKS = frozenset({
    None, "rebooting", "reboot_pending", "reboot_started", "rebooting_hard", "resuming",
    "unpausing", "pausing", "suspending",
})  # fmt: skip
# The name Nova's conflict gives an action -> (vm_states, task_states) it is allowed in.
ALLOWED: dict[str, tuple[frozenset[str], frozenset[str | None]]] = {
    "start": (frozenset({"stopped"}), _ANY_TASK),
    "stop": (frozenset({"active", "rescued", "error"}), _ANY_TASK),
    "pause": (frozenset({"active"}), _ANY_TASK),
    "unpause": (frozenset({"paused"}), _ANY_TASK),
    "reboot": (frozenset({"active"}), _ANY_TASK),
    "reboot HARD": (frozenset({"active", "stopped", "paused", "suspended", "error"}),
                    _HARD_REBOOT_TASKS),
    "resize": (frozenset({"active", "stopped"}), _ANY_TASK),
    "rebuild": (frozenset({"active", "stopped", "error"}), _ANY_TASK),
}  # fmt: skip
# (vm_state, the powerState the spec asks for) -> the task state Nova would show until the
# operator has begun: Nova sets it when it accepts the action.
_POWER_TASKS = {
    ("active", "Stopped"): "powering-off", ("paused", "Stopped"): "powering-off",
    ("stopped", "Running"): "powering-on", ("stopped", "Paused"): "powering-on",
    ("active", "Paused"): "pausing", ("paused", "Running"): "unpausing",
}  # fmt: skip
_POWER_ACTIONS = {"os-start": ("start", "Running"), "os-stop": ("stop", "Stopped"),
                  "pause": ("pause", "Paused"), "unpause": ("unpause", "Running")}  # fmt: skip
_REBOOT_TYPES = ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]
REVERT_REFUSED = (
    "Cannot 'revertResize' instance {id} while it is in vm_state {state}: Nimbus confirms a "
    "resize at once and keeps no old instance to revert to; resize to the old flavor instead."
)


def server_state(server: dict[str, Any]) -> tuple[str, str | None]:
    """Nova's (vm_state, task_state) of the server now, counting a power change or reboot its
    spec and annotations ask for that the operator has not begun yet."""
    spec, status = server.get("spec") or {}, server.get("status") or {}
    # documents' mapping of a status word to Nova's vm_state, the one the server document shows
    vm_state = documents._vm_state(status.get("status") or "BUILD",
                                   status.get("powerState") or "NOSTATE")  # fmt: skip
    if status.get("taskState"):
        return vm_state, str(status["taskState"])
    pending = _POWER_TASKS.get((vm_state, spec.get("powerState") or "Running"))
    if pending:
        return vm_state, pending
    asked = lifecycle.reboot_asked(server)
    built = status.get("built") or {}
    if built and asked and asked != built.get("reboot"):
        annotations = server["metadata"].get("annotations") or {}
        hard = str(annotations.get(lifecycle.REBOOT_TYPE, "")).upper() == "HARD"
        return vm_state, "rebooting_hard" if hard else "rebooting"
    return vm_state, None


def check_state(server: dict[str, Any], action: str) -> None:
    """Nova's 409 for an action the server's state does not allow, in Nova's words."""
    vm_states, task_states = ALLOWED[action]
    vm_state, task_state = server_state(server)
    ident, name = server["metadata"]["uid"], action.split()[0]
    if vm_state not in vm_states:
        raise Fault(409, f"Cannot '{name}' instance {ident} while it is in vm_state {vm_state}")
    if task_state not in task_states:
        raise Fault(409, f"Cannot '{name}' instance {ident} while it is in task_state {task_state}")


def _invalid(path: str, value: Any, why: str) -> Fault:
    return Fault(400, f"Invalid input for field/attribute {path}. Value: {value}. {why}")


def _find(objects: list[dict[str, Any]], ref: str) -> dict[str, Any] | None:
    return next((o for o in objects if ref in (o["metadata"]["uid"], o["metadata"]["name"])),
                None)  # fmt: skip


def action_patch(
    action: str,
    argument: Any,
    server: dict[str, Any],
    *,
    flavors: list[dict[str, Any]],
    images: list[dict[str, Any]],
    now: datetime.datetime,
) -> dict[str, Any] | None:
    """The merge patch of the Server that asks for Nova's `action` (None: nothing to change),
    or Nova's 400 or 409 in its words. `flavors` and `images` are what the caller may use."""
    spec = server.get("spec") or {}
    ident = server["metadata"]["uid"]
    if action in _POWER_ACTIONS:
        name, power = _POWER_ACTIONS[action]
        check_state(server, name)
        return {"spec": {"powerState": power}}
    if action == "reboot":
        if not isinstance(argument, dict) or "type" not in argument:
            raise _invalid("reboot", argument, "'type' is a required property")
        kind = argument["type"]
        if kind not in _REBOOT_TYPES:
            raise _invalid("type", kind, f"{kind!r} is not one of {_REBOOT_TYPES}")
        hard = kind.upper() == "HARD"
        check_state(server, "reboot HARD" if hard else "reboot")
        stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patch: dict[str, Any] = {"metadata": {"annotations": {
            lifecycle.REBOOT: stamp, lifecycle.REBOOT_TYPE: "HARD" if hard else None}}}  # fmt: skip
        if hard and (spec.get("powerState") or "Running") != "Running":
            patch["spec"] = {"powerState": "Running"}  # Nova's hard reboot powers it on
        return patch
    if action == "resize":
        if not isinstance(argument, dict) or "flavorRef" not in argument:
            raise _invalid("resize", argument, "'flavorRef' is a required property")
        ref = str(argument["flavorRef"])
        check_state(server, "resize")
        flavor = _find(flavors, ref)
        if flavor is None:
            raise Fault(400, f"Flavor {ref} could not be found.")
        running = ((server.get("status") or {}).get("built") or {}).get("flavor")
        current = running or spec.get("flavor")
        if flavor["metadata"]["name"] == current:
            raise Fault(400, "When resizing, instances must change flavor!")
        old = next((f for f in flavors if f["metadata"]["name"] == current), None)
        old_disk = int(((old or {}).get("spec") or {}).get("diskGB") or 0)
        new_disk = int((flavor.get("spec") or {}).get("diskGB") or 0)
        if 0 < new_disk < old_disk:
            raise Fault(400, lifecycle.RESIZE_DOWN)
        return {"spec": {"flavor": flavor["metadata"]["name"]}}
    if action == "confirmResize":
        return None  # Nimbus confirmed it when it resized (docs/compute.md)
    if action == "revertResize":
        raise Fault(409, REVERT_REFUSED.format(id=ident, state=server_state(server)[0]))
    if action == "rebuild":
        if not isinstance(argument, dict) or "imageRef" not in argument:
            raise _invalid("rebuild", argument, "'imageRef' is a required property")
        check_state(server, "rebuild")
        image = _find(images, str(argument["imageRef"]))
        if image is None:
            raise Fault(400, "Cannot find image for rebuild")
        if spec.get("bootVolume"):
            raise Fault(400, "Unable to rebuild with a different image for a volume-backed "
                        "server.")  # fmt: skip
        wanted = {"name": image["metadata"]["name"], "project": None}
        if lifecycle.image_key(spec.get("image")) == lifecycle.image_key(wanted):
            raise Fault(
                400,
                f"Server {ident} already runs image {documents.display_name(image)}: Nimbus "
                "rebuilds a server when spec.image changes; give another image",
            )
        return {"spec": {"image": wanted}}
    raise Fault(400, f"There is no such action: {action}")


def _console_length(argument: Any) -> None:
    """os-getConsoleOutput's length: an integer of at least -1, or null."""
    length = (argument or {}).get("length") if isinstance(argument, dict) else None
    if length is None:
        return
    if isinstance(length, str) and re.fullmatch(r"-?\d+", length):
        length = int(length)
    if isinstance(length, bool) or not isinstance(length, int) or length < -1:
        raise _invalid("length", length, f"{length!r} is not valid under any of the given "
                       "schemas")  # fmt: skip


@routes.post("/compute/v2.1/servers/{server_id}/action")
async def server_action(request: web.Request) -> web.Response:
    """Nova's server actions, each a merge patch of the Server made as the caller (202, no
    body; confirmResize 204; rebuild the server document, as Nova answers them)."""
    version = microversion(request)
    identity = await _identity(request)
    body = await _body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise Fault(400, "Malformed request body")
    ((action, argument),) = body.items()
    server = await _server(request, identity)
    if action == "os-getConsoleOutput":
        _console_length(argument)
        # The guest's serial log is the virt-launcher pod's guest-console-log container, and
        # no project role may read pods' logs: the user gets the empty log Nova gives a
        # server that has printed nothing, never one read with the API's own rights.
        return _respond({"output": ""}, version)
    kube = _services(request).as_user(identity)
    flavors: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    if action == "resize":
        flavors = await kube.list(COMPUTE, "Flavor")
    if action == "rebuild":
        images = await kube.list(IMAGES, "Image", identity.namespace)
    patch = action_patch(action, argument, server, flavors=flavors, images=images,
                         now=datetime.datetime.now(datetime.UTC))  # fmt: skip
    if patch is not None:
        server = await kube.patch(
            COMPUTE, "Server", server["metadata"]["name"], identity.namespace, patch
        )
    if action == "rebuild":
        context = await _context(request, identity)
        document = _document(request, identity, server, context, version)
        return _respond({"server": document}, version, status=202)
    response = _respond(None, version, status=204 if action == "confirmResize" else 202)
    response.body = b""
    return response


# -- keypairs ---------------------------------------------------------------------------------
# Nova's keypairs are a user's; Nimbus's KeyPair is the project's (a server names one in its
# own namespace), so every member of the project lists the same ones.


def _keypair_id(body: dict[str, Any]) -> int:
    """Nova's integer id of a keypair: from its uid, stable."""
    return int(str(body["metadata"]["uid"]).replace("-", "")[:7], 16)


def _naive(stamp: str | None) -> str | None:
    """Nova's keypair timestamps: a naive datetime's isoformat, to the microsecond."""
    if not stamp:
        return None
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def keypair_document(
    body: dict[str, Any], *, user_id: str, version: tuple[int, int], detail: bool
) -> dict[str, Any]:
    """Nova's keypair: as listed, or (detail) as GET /os-keypairs/{name} shows it."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    kind = spec.get("type") or "ssh"
    public_key = spec.get("publicKey") or status.get("publicKey") or ""
    fingerprint = status.get("fingerprint")
    if fingerprint is None and spec.get("publicKey"):
        try:
            fingerprint = keypairs.fingerprint(spec["publicKey"], kind)
        except keypairs.InvalidKeyError:
            fingerprint = None
    document: dict[str, Any] = {"name": body["metadata"]["name"], "public_key": public_key,
                                "fingerprint": fingerprint or ""}  # fmt: skip
    if version >= (2, 2):
        document["type"] = kind
    if detail:
        document.update({
            "user_id": user_id, "deleted": False, "id": _keypair_id(body),
            "created_at": _naive(body["metadata"].get("creationTimestamp")),
            "updated_at": None, "deleted_at": None,
        })  # fmt: skip
    return document


def keypair_create(request: Any, version: tuple[int, int]) -> tuple[dict[str, Any], str | None]:
    """Nova's POST /os-keypairs body -> (the KeyPair's spec with its name, the private key when
    Nimbus generated the pair), or Nova's 400. Before 2.92 a keypair without a public key is
    generated here, as Nova generates it, and its private key is only ever in the response."""
    keypair = request.get("keypair") if isinstance(request, dict) else None
    if not isinstance(keypair, dict):
        raise _invalid("keypair", keypair, "'keypair' is a required property")
    name = keypair.get("name")
    if not isinstance(name, str) or not name:
        raise _invalid("keypair", keypair, "'name' is a required property")
    if len(name) > 253 or not re.match(meta.NAME_PATTERN, name):
        raise _invalid(
            "keypair/name",
            name,
            f"{name!r} is not a valid name: Nimbus keeps a keypair as a Kubernetes object: "
            "lowercase letters, digits, '-' and '.'",
        )
    kind = keypair.get("type", "ssh") if version >= (2, 2) else "ssh"
    if kind not in ("ssh", "x509"):
        raise _invalid("keypair/type", kind, f"{kind!r} is not one of ['ssh', 'x509']")
    public_key = keypair.get("public_key")
    private_key = None
    if public_key is None:
        if version >= (2, 92):
            raise _invalid("keypair", keypair, "'public_key' is a required property")
        if kind != "ssh":
            raise _invalid("keypair/type", kind, "Nimbus generates ssh keys only; import an x509 "
                           "certificate in public_key")  # fmt: skip
        private_key, public_key = keypairs.generate(f"{name} generated by Nimbus")
    if not isinstance(public_key, str) or not public_key.strip():
        raise _invalid("keypair/public_key", public_key, "a public key is a non-empty string")
    public_key = public_key.strip()
    try:
        keypairs.fingerprint(public_key, kind)
    except keypairs.InvalidKeyError as error:
        raise Fault(400, str(error)) from None
    return {"name": name, "publicKey": public_key, "type": kind}, private_key


def _keypair_status(version: tuple[int, int], before: int, since: int) -> int:
    return since if version >= (2, 2) else before


@routes.get("/compute/v2.1/os-keypairs")
async def list_keypairs(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    kube = _services(request).as_user(identity)
    found = await kube.list(COMPUTE, "KeyPair", identity.namespace)
    listed = [{"keypair": keypair_document(k, user_id=identity.user_id, version=version,
                                           detail=False)} for k in found]  # fmt: skip
    return _respond({"keypairs": listed}, version)


@routes.post("/compute/v2.1/os-keypairs")
async def create_keypair(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    spec, private_key = keypair_create(await _body(request), version)
    name = spec.pop("name")
    kube = _services(request).as_user(identity)
    try:
        made = await kube.create({
            "apiVersion": COMPUTE, "kind": "KeyPair",
            "metadata": {"name": name, "namespace": identity.namespace}, "spec": spec,
        })  # fmt: skip
    except client.ApiError as error:
        if error.status == 409:
            raise Fault(409, f"Key pair '{name}' already exists.") from None
        raise
    document = keypair_document(made, user_id=identity.user_id, version=version, detail=False)
    document["user_id"] = identity.user_id
    if private_key is not None:
        document["private_key"] = private_key
    return _respond({"keypair": document}, version, status=_keypair_status(version, 200, 201))


async def _keypair(request: web.Request, identity: Identity) -> dict[str, Any]:
    name = request.match_info["name"]
    kube = _services(request).as_user(identity)
    found = None
    if len(name) <= 253 and re.match(meta.NAME_PATTERN, name):
        found = await kube.get(COMPUTE, "KeyPair", name, identity.namespace)
    if found is None:
        raise Fault(404, f"Keypair {name} not found for user {identity.user_id}")
    return found


@routes.get("/compute/v2.1/os-keypairs/{name}")
async def show_keypair(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    found = await _keypair(request, identity)
    document = keypair_document(found, user_id=identity.user_id, version=version, detail=True)
    return _respond({"keypair": document}, version)


@routes.delete("/compute/v2.1/os-keypairs/{name}")
async def delete_keypair(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await _identity(request)
    found = await _keypair(request, identity)
    kube = _services(request).as_user(identity)
    await kube.delete(COMPUTE, "KeyPair", found["metadata"]["name"], identity.namespace)
    response = _respond(None, version, status=_keypair_status(version, 202, 204))
    response.body = b""
    return response


# -- limits -----------------------------------------------------------------------------------


def limits_document(project: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    """Nova's GET /limits: the project's quota (spec.quota) and what it uses (status.usage, as
    the operator counts it), with the fields of `version`; no rate limits."""
    quota = identity_api.Quota.model_validate((project.get("spec") or {}).get("quota") or {})
    status = identity_api.ProjectStatus.model_validate(project.get("status") or {})

    def used(field: str) -> int:
        entry = status.usage.get(identity_api.Quota.model_fields[field].alias or field)
        return entry.in_use if entry is not None else 0

    absolute = {
        "maxTotalInstances": quota.instances,
        "maxTotalCores": quota.cores,
        "maxTotalRAMSize": quota.ram_mb,
        "maxTotalKeypairs": quota.key_pairs,
        "maxServerMeta": quota.metadata_items,
        "maxServerGroups": quota.server_groups,
        "maxServerGroupMembers": quota.server_group_members,
        "totalInstancesUsed": used("instances"),
        "totalCoresUsed": used("cores"),
        "totalRAMUsed": used("ram_mb"),
        "totalServerGroupsUsed": used("server_groups"),
    }
    if version < (2, 36):  # Neutron's, which Nova proxied until 2.36
        absolute.update({
            "maxSecurityGroups": quota.security_groups,
            "maxSecurityGroupRules": quota.security_group_rules,
            "maxTotalFloatingIps": quota.floating_ips,
            "totalSecurityGroupsUsed": used("security_groups"),
            "totalFloatingIpsUsed": used("floating_ips"),
        })  # fmt: skip
    if version < (2, 39):  # Glance's, which Nova proxied until 2.39
        absolute["maxImageMeta"] = quota.metadata_items
    if version < (2, 57):  # Nimbus injects no personality files: none may be given
        absolute.update({"maxPersonality": 0, "maxPersonalitySize": 0})
    return {"limits": {"absolute": absolute, "rate": []}}


@routes.get("/compute/v2.1/limits")
async def limits(request: web.Request) -> web.Response:
    """The token's project, as the API read it to scope the token: no call of its own."""
    version = microversion(request)
    identity = await _identity(request)
    if identity.project is None:
        raise Fault(403, "This action requires a project-scoped token.")
    return _respond(limits_document(identity.project, version), version)


# -- availability zones -----------------------------------------------------------------------

ZONE = "topology.kubernetes.io/zone"
DETAIL_REFUSED = "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."


def _node_ready(node: dict[str, Any]) -> tuple[bool, str | None]:
    """(Ready, its last heartbeat)."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True", condition.get("lastHeartbeatTime")
    return False, None


def zones_from_nodes(nodes: list[dict[str, Any]], *, detail: bool) -> list[dict[str, Any]]:
    """Nova's availability zones from the nodes' zone labels: available while a node of the zone
    is Ready and schedulable; with `detail`, each node as a host running nova-compute. A node
    without the label is in no zone (a server that names no zone may run on any node)."""
    zones: dict[str, dict[str, Any]] = {}
    for node in sorted(nodes, key=lambda n: str(n["metadata"]["name"])):
        zone = (node["metadata"].get("labels") or {}).get(ZONE)
        if not zone:
            continue
        ready, heartbeat = _node_ready(node)
        usable = ready and not (node.get("spec") or {}).get("unschedulable", False)
        entry = zones.setdefault(zone, {"zoneName": zone, "zoneState": {"available": False},
                                        "hosts": {} if detail else None})  # fmt: skip
        entry["zoneState"]["available"] |= usable
        if detail:
            entry["hosts"][node["metadata"]["name"]] = {"nova-compute": {
                "available": usable, "active": ready, "updated_at": _naive(heartbeat)}}  # fmt: skip
    return [zones[z] for z in sorted(zones)]


def zones_from_servers(servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The zones the project's servers are in or ask for: what a user who may not list nodes
    knows of, without the API reading nodes with its own rights."""
    names = {
        zone
        for s in servers
        for zone in (
            (s.get("status") or {}).get("availabilityZone"),
            (s.get("spec") or {}).get("availabilityZone"),
        )
        if zone
    }
    return [{"zoneName": z, "zoneState": {"available": True}, "hosts": None}
            for z in sorted(names)]  # fmt: skip


@routes.get("/compute/v2.1/os-availability-zone")
@routes.get("/compute/v2.1/os-availability-zone/detail")
async def availability_zones(request: web.Request) -> web.Response:
    """From the nodes, when the caller may list them (a cluster admin); else the zones of the
    project's servers, and the detail (Nova's admin-only host list) refused as Nova refuses it."""
    version = microversion(request)
    identity = await _identity(request)
    detail = request.path.endswith("/detail")
    kube = _services(request).as_user(identity)
    try:
        nodes: list[dict[str, Any]] | None = await kube.list("v1", "Node")
    except client.ApiError as error:
        if error.status != 403:
            raise
        nodes = None
    if nodes is not None:
        info = zones_from_nodes(nodes, detail=detail)
    elif detail:
        raise Fault(403, DETAIL_REFUSED)
    else:
        info = zones_from_servers(await _servers(request, identity))
    return _respond({"availabilityZoneInfo": info}, version)
