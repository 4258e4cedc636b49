"""The only place that talks to the API server: server-side apply, get, list, delete, status,
events. Async (aiohttp), so kopf's handlers await it without threads."""

from __future__ import annotations

import builtins
import copy
import dataclasses
import datetime
import json
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import aiohttp
from multidict import CIMultiDict

FIELD_MANAGER = "nimbus"


@dataclasses.dataclass(frozen=True)
class Resource:
    plural: str
    namespaced: bool


# The kinds Nimbus reads or writes, by (apiVersion, kind). A static table: no discovery round
# trips, and an unknown kind is a programming error, not something to look up at run time.
RESOURCES: dict[tuple[str, str], Resource] = {
    ("v1", "Namespace"): Resource("namespaces", False),
    ("v1", "Node"): Resource("nodes", False),
    ("v1", "PersistentVolume"): Resource("persistentvolumes", False),
    ("v1", "Secret"): Resource("secrets", True),
    ("v1", "ConfigMap"): Resource("configmaps", True),
    ("v1", "PersistentVolumeClaim"): Resource("persistentvolumeclaims", True),
    ("v1", "Pod"): Resource("pods", True),
    ("v1", "Event"): Resource("events", True),
    ("v1", "ResourceQuota"): Resource("resourcequotas", True),
    ("v1", "LimitRange"): Resource("limitranges", True),
    ("v1", "ServiceAccount"): Resource("serviceaccounts", True),
    ("apps/v1", "Deployment"): Resource("deployments", True),
    ("storage.k8s.io/v1", "StorageClass"): Resource("storageclasses", False),
    ("kopf.dev/v1", "ClusterKopfPeering"): Resource("clusterkopfpeerings", False),
    ("authorization.k8s.io/v1", "SubjectAccessReview"): Resource("subjectaccessreviews", False),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): Resource(
        "selfsubjectaccessreviews", False
    ),
    ("authentication.k8s.io/v1", "SelfSubjectReview"): Resource("selfsubjectreviews", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): Resource(
        "customresourcedefinitions", False
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): Resource("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Resource("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): Resource("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): Resource("clusterrolebindings", False),
    ("networking.k8s.io/v1", "NetworkPolicy"): Resource("networkpolicies", True),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): Resource(
        "validatingadmissionpolicies", False
    ),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): Resource(
        "validatingadmissionpolicybindings", False
    ),
    ("kubevirt.io/v1", "VirtualMachine"): Resource("virtualmachines", True),
    ("kubevirt.io/v1", "VirtualMachineInstance"): Resource("virtualmachineinstances", True),
    ("cdi.kubevirt.io/v1beta1", "DataVolume"): Resource("datavolumes", True),
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"): Resource(
        "network-attachment-definitions", True
    ),
    ("snapshot.storage.k8s.io/v1", "VolumeSnapshot"): Resource("volumesnapshots", True),
    ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"): Resource("volumesnapshotclasses", False),
}

# (apiVersion, kind, plural, namespaced): the kinds a client is given besides RESOURCES.
Kinds = Iterable[tuple[str, str, str, bool]]


class ApiError(RuntimeError):
    """The API server refused a request."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class Credentials:
    server: str
    ssl_context: ssl.SSLContext
    token: str | None = None


def load_credentials(kubeconfig: str | None = None) -> Credentials:
    """From a kubeconfig (the file, $KUBECONFIG or ~/.kube/config), else in-cluster."""
    import kubernetes

    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
    except (kubernetes.config.ConfigException, FileNotFoundError, TypeError):
        kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    token = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken")
    if token and token.lower().startswith("bearer "):
        token = token.split(" ", 1)[1]
    return Credentials(configuration.host, context, token)


class Client:
    """An API client for one API server; one aiohttp session, reused."""

    def __init__(
        self, credentials: Credentials, *, kinds: Kinds = (), impersonate: str | None = None
    ) -> None:
        """`kinds`: what it addresses besides Kubernetes' own (Nimbus's: nimbus.api.kinds.table());
        the client knows no service of its own."""
        self.credentials = credentials
        self.resources = {**RESOURCES, **{(a, k): Resource(p, n) for a, k, p, n in kinds}}
        headers = {"Accept": "application/json"}
        if credentials.token:
            headers["Authorization"] = f"Bearer {credentials.token}"
        if impersonate:
            headers["Impersonate-User"] = impersonate
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None
        self._as: tuple[tuple[str, str], ...] = ()  # impersonation headers of each request
        self._read_only: str | None = None  # why writes are refused, for a read-only client
        self._parent: Client | None = None
        # Told of every object a write answers with, by this client and the impersonating
        # ones made from it after it is set (a cache keeping what its owner wrote).
        self.observer: Callable[[dict[str, Any]], None] | None = None

    def impersonating(
        self, user: str, groups: Sequence[str] = (), *, read_only: str | None = None
    ) -> Client:
        """This client acting as `user` (in `groups`) for each request, through Kubernetes'
        impersonation: RBAC judges the user, not the client's own credentials. With
        `read_only` (why), it also refuses every write itself (a 403): for a caller held to
        fewer rights than the user's. It shares this client's connections; close this one, not
        it."""
        other = copy.copy(self)
        other._parent = self
        other._as = (("Impersonate-User", user), *(("Impersonate-Group", g) for g in groups))
        other._read_only = read_only
        return other

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._parent is not None:
            return self._parent._http()
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(ssl=self.credentials.ssl_context, limit=64),
                timeout=aiohttp.ClientTimeout(total=60),
            )
        return self._session

    def _at(
        self, api_version: str, kind: str, namespace: str | None, name: str | None = None
    ) -> str:
        return self.path(api_version, kind, namespace, name, table=self.resources)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @staticmethod
    def path(
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str | None = None,
        *,
        table: dict[tuple[str, str], Resource] = RESOURCES,
    ) -> str:
        for part in (namespace, name):  # never a path of another object's (`../../other/...`)
            if part is not None and (part in (".", "..") or "/" in part or "%" in part):
                raise ValueError(f"{part!r} is not the name of a Kubernetes object")
        resource = table[(api_version, kind)]
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if resource.namespaced and namespace:
            prefix += f"/namespaces/{namespace}"
        elif resource.namespaced and name:  # a collection without one is every namespace's
            raise ValueError(f"{kind} is namespaced: a namespace is needed")
        path = f"{prefix}/{resource.plural}"
        return f"{path}/{name}" if name else path

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        accept: str | None = None,
    ) -> dict[str, Any] | None:
        if (
            self._read_only
            and method not in ("GET", "HEAD")
            and not path.endswith("/selfsubjectaccessreviews")
        ):
            raise ApiError(403, "Forbidden", self._read_only)
        data = json.dumps(body) if body is not None else None
        headers: list[tuple[str, str]] = [("Content-Type", content_type)] if data else []
        if accept is not None:
            headers.append(("Accept", accept))
        headers += self._as
        async with self._http().request(
            method,
            self.credentials.server + path,
            data=data,
            params=params,
            headers=CIMultiDict(headers) if headers else None,
        ) as response:
            text = await response.text()
            if response.status == 404 and method in ("GET", "DELETE"):
                return None
            if response.status >= 400:
                try:
                    status = json.loads(text)
                    raise ApiError(response.status, status.get("reason", ""), status["message"])
                except (ValueError, KeyError):
                    raise ApiError(response.status, response.reason or "", text) from None
            result: dict[str, Any] = json.loads(text) if text else {}
            # not a DELETE's answer: the object's last state, which could follow its watch event
            if self.observer is not None and method in ("POST", "PUT", "PATCH") and result:
                self.observer(result)
            return result

    async def apply(
        self, obj: dict[str, Any], *, force: bool = True, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply `obj` under a field manager (Nimbus's unless said); return what the
        server holds."""
        metadata = obj["metadata"]
        path = self._at(obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"])
        params = {"fieldManager": field_manager, "force": "true" if force else "false"}
        result = await self._request(
            "PATCH", path, body=obj, content_type="application/apply-patch+yaml", params=params
        )
        assert result is not None
        return result

    async def create(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """POST `obj` (with dry_run, the API server admits it and stores nothing)."""
        metadata = obj["metadata"]
        path = self._at(obj["apiVersion"], obj["kind"], metadata.get("namespace"))
        params = {"dryRun": "All"} if dry_run else None
        result = await self._request("POST", path, body=obj, params=params)
        assert result is not None
        return result

    async def get(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist. Read from etcd (a quorum read), unless
        `resource_version` is given: then from the API server's watch cache, cheaper — "0" for
        whatever it holds, a version the caller has seen for no older than that (the cache is
        waited for). Either may miss a write made elsewhere a moment ago."""
        params = {"resourceVersion": resource_version} if resource_version else None
        path = self._at(api_version, kind, namespace, name)
        return await self._request("GET", path, params=params)

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        items, _ = await self.list_with_version(
            api_version, kind, namespace, label_selector=label_selector
        )
        return items

    async def list_with_version(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """The objects and the list's resourceVersion, where a watch that misses nothing
        starts (an informer's list)."""
        resource = self.resources[(api_version, kind)]
        path = self._at(api_version, kind, namespace if resource.namespaced else None)
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self._request("GET", path, params=params) or {}
        items: list[dict[str, Any]] = result.get("items", [])
        return items, str(result.get("metadata", {}).get("resourceVersion", ""))

    async def resource_version(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> str:
        """The collection's resourceVersion now: where a watch that misses nothing starts."""
        resource = self.resources[(api_version, kind)]
        path = self._at(api_version, kind, namespace if resource.namespaced else None)
        result = await self._request("GET", path, params={"limit": "1"})
        return str((result or {}).get("metadata", {}).get("resourceVersion", ""))

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, object) for each change after `resource_version` (from now when None), until
        the server ends the watch."""
        resource = self.resources[(api_version, kind)]
        path = self._at(api_version, kind, namespace if resource.namespaced else None)
        params = {"watch": "true", "allowWatchBookmarks": "true"}
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        async with self._http().get(
            self.credentials.server + path,
            params=params,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        ) as response:
            if response.status >= 400:
                raise ApiError(response.status, response.reason or "", await response.text())
            while line := await response.content.readline():
                event = json.loads(line)
                yield event["type"], event["object"]

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> bool:
        """Delete the object (in the background); False when it did not exist."""
        result = await self._request(
            "DELETE",
            self._at(api_version, kind, namespace, name),
            body={"propagationPolicy": "Background"},
        )
        return result is not None

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
    ) -> dict[str, Any]:
        """Merge-patch the object: for a field another manager owns, such as a claim's size."""
        result = await self._request(
            "PATCH",
            self._at(api_version, kind, namespace, name),
            body=patch,
            content_type="application/merge-patch+json",
        )
        assert result is not None
        return result

    async def patch_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        status: dict[str, Any],
    ) -> dict[str, Any]:
        """Merge-patch the status subresource (a list such as conditions is replaced whole)."""
        result = await self._request(
            "PATCH",
            self._at(api_version, kind, namespace, name) + "/status",
            body={"status": status},
            content_type="application/merge-patch+json",
        )
        assert result is not None
        return result

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT `obj` whole, as read (its resourceVersion makes a concurrent change a 409): for a
        kind without a status subresource, whose status a merge patch would alter (its nulls
        delete keys) where its controller's JSON patches test the whole value."""
        metadata = obj["metadata"]
        path = self._at(obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"])
        result = await self._request("PUT", path, body=obj)
        assert result is not None
        return result

    async def put_subresource(
        self,
        group_version: str,
        plural: str,
        name: str,
        namespace: str,
        subresource: str,
        body: dict[str, Any] | None = None,
    ) -> None:
        """PUT to a subresource an aggregated API serves, such as KubeVirt's
        subresources.kubevirt.io/v1 virtualmachineinstances/<name>/pause."""
        path = f"/apis/{group_version}/namespaces/{namespace}/{plural}/{name}/{subresource}"
        # As client-go asks: virt-api's pause and unpause produce no JSON, and refuse (406) a
        # caller that accepts JSON alone.
        await self._request(
            "PUT", path, body=body if body is not None else {}, accept="application/json, */*"
        )

    async def event(
        self,
        involved: dict[str, Any],
        *,
        reason: str,
        message: str,
        type: str = "Normal",
    ) -> None:
        """A Kubernetes Event about `involved` (an object as the API returns it)."""
        metadata = involved["metadata"]
        namespace = metadata.get("namespace") or "default"
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": metadata["name"],
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type,
            "source": {"component": "nimbus"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._request("POST", self._at("v1", "Event", namespace), body=event)


def owner_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """The controller ownerReference to `obj` (as the API returns it)."""
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
