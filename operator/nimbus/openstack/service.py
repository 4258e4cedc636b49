"""What every route of the API shares: its configuration, the Fernet keys, the users and projects
a token names, and a Kubernetes client acting as the token's user.

The API keeps no state of its own: the keys are a Secret of the system namespace (made at the
first start, rotated by `nimbus api rotate-keys` as `keystone-manage fernet_rotate`), a user's
password hash a Secret the operator writes, revoked tokens' audit ids a ConfigMap. Any replica
answers any request."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import datetime
import json
import time
from collections.abc import Mapping
from typing import Any

from nimbus.identity import api as identity_api
from nimbus.k8s import client, reflector
from nimbus.openstack import passwords, tokens
from nimbus.openstack.faults import UNAUTHORIZED, Fault

IDENTITY = "identity.nimbus.dev/v1alpha1"
COMPUTE = "compute.nimbus.dev/v1alpha1"
IMAGES = "image.nimbus.dev/v1alpha1"
KEYS_SECRET = "nimbus-fernet-keys"
REVOCATIONS = "nimbus-token-revocations"
LOCKOUTS = "nimbus-login-failures"  # per user: "<failures> <locked until, epoch seconds>"
PASSWORD_SECRET = "nimbus-password-{user}"
# The groups every impersonated user is in: what any authenticated user may do (read flavors
# and volume types), never more. No other group is ever asserted.
GROUPS = ("system:authenticated",)
# Keystone's implied roles: admin implies member, member implies reader.
IMPLIED = {"admin": ("admin", "member", "reader"), "member": ("member", "reader"),
           "reader": ("reader",)}  # fmt: skip
DOMAIN = {"id": "default", "name": "Default"}
KEY_REFRESH = 30.0  # seconds between reads of the key Secret
REVOCATION_REFRESH = 2.0
VERIFIED_KEPT = 10_000  # tokens kept decrypted (Services.verify) before starting afresh
NAMES_KEPT = 200_000  # ids remembered (services.remember) before starting afresh


@dataclasses.dataclass(frozen=True)
class Config:
    public_url: str  # where clients reach the API: the catalog's URLs start with it
    system_namespace: str = "nimbus-system"
    expiration: datetime.timedelta = tokens.DEFAULT_EXPIRATION
    region: str = "RegionOne"
    # Keystone's [security_compliance] lockout_failure_attempts (0: never locked out) and
    # lockout_duration: PCI-DSS's six tries and thirty minutes.
    lockout_failure_attempts: int = 6
    lockout_duration: datetime.timedelta = datetime.timedelta(minutes=30)


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a verified token says is calling, and for which project. Its user and project are
    the objects the API keeps from its watches: read them, never change them."""

    token: tokens.Token
    user: dict[str, Any]  # the User object
    project: dict[str, Any] | None  # the Project object, for a project-scoped token
    roles: tuple[str, ...]

    @property
    def user_id(self) -> str:
        return str(self.user["metadata"]["uid"])

    @property
    def namespace(self) -> str:
        """The project's namespace: where its servers, networks and volumes are."""
        if self.project is None:
            raise Fault(403, "This action requires a project-scoped token.")
        return str((self.project.get("status") or {}).get("namespace") or "")

    @property
    def admin(self) -> bool:
        return "admin" in self.roles


class Services:
    """The API's shared state: configuration, its own client (to read users, projects and its
    Secrets), and the keys and revocations it refreshes."""

    def __init__(self, config: Config, api: client.Client) -> None:
        self.config, self.api = config, api
        self._keys: dict[int, bytes] = {}
        self._keys_read = 0.0
        self._revoked: dict[str, int] = {}
        self._revoked_read = 0.0
        self._lock = asyncio.Lock()
        # (kind, namespace, uid) -> (name, resourceVersion), learned from the lists callers made
        # and the writes they made through this process: a hint that
        # turns a lookup by OpenStack id into one GET by name (made as the caller, its uid
        # checked), instead of a list of the whole project. Never an answer by itself.
        self._names: dict[tuple[str, str, str], tuple[str, str]] = {}
        # What each token said when decrypted with these keys, as keystonemiddleware keeps its
        # validations: the decryption only (a fifth of a show), never the checks that follow —
        # expiry, revocations, the user and project are checked at every request.
        self._verified: dict[str, tokens.Token] = {}
        self._verified_with: dict[int, bytes] = {}
        # Users and Projects as an informer keeps them (a list, then a watch), and as this
        # process last wrote them (the client tells them of every write's answer): what a token
        # is checked against at each request without a read. A user disabled or deleted, or a
        # member removed, is refused as soon as the watch brings the change (milliseconds;
        # keystonemiddleware caches a validation for five minutes). Until they have listed,
        # the API server is read instead.
        self._users = reflector.Reflector(api, IDENTITY, "User")
        self._projects = reflector.Reflector(api, IDENTITY, "Project")
        # Flavors likewise, only to describe a server's own flavor in its document; and every
        # project's Images, only for the id of a server's own image in its document.
        self._flavors = reflector.Reflector(api, COMPUTE, "Flavor")
        self._images = reflector.Reflector(api, IMAGES, "Image")
        self._kept = (self._users, self._projects, self._flavors, self._images)
        api.observer = self._observe

    def _observe(self, written: dict[str, Any]) -> None:
        for kept in self._kept:
            kept.observe(written)
        if written.get("kind") and (written.get("metadata") or {}).get("uid"):
            self.remember(written["kind"], [written])

    def start(self) -> None:
        """Start keeping Users, Projects and Flavors (the application's startup)."""
        for kept in self._kept:
            kept.start()

    async def stop(self) -> None:
        for kept in self._kept:
            await kept.stop()

    async def server_flavor(self, identity: Identity, name: str) -> dict[str, Any] | None:
        """The Flavor a server of the caller's was built on, to describe it in the server's
        document (Nova shows a server's flavor to whoever sees the server). The watch's own
        object, not a copy (a show's largest cost was copying it): read it, never change it."""
        if self._flavors.synced:
            return self._flavors.get(name)
        return await self.as_user(identity).get(COMPUTE, "Flavor", name)

    def server_image(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The Image a server boots from, kept from the watch, for its id in the server's
        document: Nova shows a server's image id to whoever sees the server, whether or not they
        may read the image (Nova keeps it with the instance). The watch's own object: read it,
        never change it. Only once `images_kept`."""
        return self._images.get(name, namespace)

    @property
    def images_kept(self) -> bool:
        return self._images.synced

    def as_user(self, identity: Identity, *, in_project: bool = False) -> client.Client:
        """A client that acts as the token's user: Kubernetes RBAC judges every call. An
        application credential without the member role is held to reading, whatever the
        user may do. `in_project`: also in the group of the token's project
        (identity_api.PROJECT_GROUP), for what was granted to the project as such — another
        project's image shared with it; the operator lets the API assert it per Project."""
        read_only = None
        if identity.token.roles is not None and "member" not in identity.roles:
            held = ", ".join(identity.roles)
            read_only = (f"application credential {identity.token.application_credential} "
                         f"holds the roles {held}: writing needs member")  # fmt: skip
        groups: tuple[str, ...] = GROUPS
        if in_project and identity.project is not None:
            groups = (*GROUPS, identity_api.PROJECT_GROUP + identity.project["metadata"]["name"])
        return self.api.impersonating(identity.token.user, groups, read_only=read_only)

    # -- ids ---------------------------------------------------------------------------------

    def remember(self, kind: str, objects: list[dict[str, Any]]) -> None:
        """The names and resourceVersions of objects a list (or a write) answered."""
        if len(self._names) > NAMES_KEPT:
            self._names.clear()
        for body in objects:
            metadata = body["metadata"]
            key = (kind, metadata.get("namespace") or "", metadata["uid"])
            seen = self._names.get(key)
            version = str(metadata.get("resourceVersion") or "")
            if seen is None or not seen[1].isdigit() or not version.isdigit() or \
                    int(version) >= int(seen[1]):  # fmt: skip
                self._names[key] = (metadata["name"], version)

    def name_of(self, kind: str, namespace: str, uid: str) -> str | None:
        """The name an object of this id had when last listed, if any was."""
        seen = self._names.get((kind, namespace, uid))
        return seen[0] if seen else None

    def version_of(self, kind: str, namespace: str, uid: str) -> str | None:
        """The latest resourceVersion of the object this process has seen (listed, read or
        written), if any: what a read from the API server's cache must not be older than."""
        seen = self._names.get((kind, namespace, uid))
        return seen[1] if seen and seen[1] else None

    # -- keys --------------------------------------------------------------------------------

    async def keys(self) -> dict[int, bytes]:
        if self._keys and time.monotonic() - self._keys_read < KEY_REFRESH:
            return self._keys
        async with self._lock:
            secret = await self.api.get("v1", "Secret", KEYS_SECRET, self.config.system_namespace)
            if secret is None:
                secret = await self._make_keys()
            self._keys = tokens.decode_keys(secret.get("data") or {})
            self._keys_read = time.monotonic()
        return self._keys

    async def _make_keys(self) -> dict[str, Any]:
        """The first start: a key repository, as `keystone-manage fernet_setup` makes one."""
        body = {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": KEYS_SECRET, "namespace": self.config.system_namespace,
                         "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
            "data": tokens.encode_keys(tokens.setup()),
        }  # fmt: skip
        try:
            return await self.api.create(body)
        except client.ApiError as error:
            if error.status != 409:  # another replica made them first
                raise
            made = await self.api.get("v1", "Secret", KEYS_SECRET, self.config.system_namespace)
            assert made is not None
            return made

    # -- revocations -------------------------------------------------------------------------

    async def revoked(self) -> dict[str, int]:
        if time.monotonic() - self._revoked_read < REVOCATION_REFRESH:
            return self._revoked
        found = await self.api.get("v1", "ConfigMap", REVOCATIONS, self.config.system_namespace)
        self._revoked = {k: int(v) for k, v in ((found or {}).get("data") or {}).items()}
        self._revoked_read = time.monotonic()
        return self._revoked

    async def revoke(self, token: tokens.Token) -> None:
        """A logout: the token's audit id is refused by every replica until it expires."""
        await self.revoke_key(token.audit_id, int(token.expires_at.timestamp()))

    async def revoke_credential(self, credential_id: str) -> None:
        """An application credential deleted: every token it gave is refused, for as long as
        one can last."""
        until = time.time() + self.config.expiration.total_seconds()
        await self.revoke_key(f"credential.{credential_id}", int(until))

    async def revoke_key(self, key: str, until: int) -> None:
        """Refuse `key` (an audit id; `credential.<id>`: every token of an application
        credential) until `until` (epoch seconds).
        Only that key is written, and the expired ones taken away: replicas revoking at once
        do not undo each other."""
        now = int(time.time())
        expired: dict[str, str | None] = {k: None for k, v in (await self.revoked()).items()
                                          if v <= now}  # fmt: skip
        await self._patch_map(REVOCATIONS, {**expired, key: str(until)})
        self._revoked_read = 0.0  # read afresh at the next verify

    async def _patch_map(self, name: str, data: dict[str, str | None]) -> None:
        """Merge-patch the keys of a ConfigMap of the system namespace (None: taken away),
        made at the first write."""
        namespace = self.config.system_namespace
        try:
            await self.api.patch("v1", "ConfigMap", name, namespace, {"data": data})
            return
        except client.ApiError as error:
            if error.status != 404:
                raise
        kept = {k: v for k, v in data.items() if v is not None}
        try:
            await self.api.create({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
                "data": kept,
            })  # fmt: skip
        except client.ApiError as error:
            if error.status != 409:  # another replica made it first
                raise
            await self.api.patch("v1", "ConfigMap", name, namespace, {"data": data})

    # -- lockout -----------------------------------------------------------------------------

    async def _failures(self) -> dict[str, str]:
        found = await self.api.get("v1", "ConfigMap", LOCKOUTS, self.config.system_namespace)
        return dict((found or {}).get("data") or {})

    async def locked(self, user: str) -> bool:
        """Whether the user is locked out after too many failed logins (Keystone's
        lockout_failure_attempts), until lockout_duration has passed."""
        if self.config.lockout_failure_attempts <= 0:
            return False
        entry = (await self._failures()).get(user)
        if not entry:
            return False
        count, until = (int(x) for x in entry.split())
        return count >= self.config.lockout_failure_attempts and until > time.time()

    async def failed_login(self, user: str) -> None:
        """One more failed login; the last allowed one locks the user out. Each user is its own
        key of the ConfigMap, merge-patched alone: replicas do not undo each other's users."""
        if self.config.lockout_failure_attempts <= 0:
            return
        entry = (await self._failures()).get(user)
        count, until = (int(x) for x in entry.split()) if entry else (0, 0)
        if count >= self.config.lockout_failure_attempts and until <= time.time():
            count = 0  # an earlier lockout is over: counting starts again
        count += 1
        if count >= self.config.lockout_failure_attempts:
            until = int(time.time() + self.config.lockout_duration.total_seconds())
        await self._write_failure(user, f"{count} {until}")

    async def login_succeeded(self, user: str) -> None:
        if self.config.lockout_failure_attempts > 0 and user in await self._failures():
            await self._write_failure(user, None)

    async def _write_failure(self, user: str, value: str | None) -> None:
        await self._patch_map(LOCKOUTS, {user: value})

    # -- users and projects ------------------------------------------------------------------

    async def user_named(self, name: str) -> dict[str, Any] | None:
        if self._users.synced:
            return _copy(self._users.get(name))
        return await self.api.get(IDENTITY, "User", name)

    async def users(self) -> list[dict[str, Any]]:
        if self._users.synced:
            return [copy.deepcopy(u) for u in self._users.objects.values()]
        return await self.api.list(IDENTITY, "User")

    async def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        return next((u for u in await self.users() if u["metadata"]["uid"] == user_id), None)

    async def check_password(self, user: dict[str, Any], password: str) -> bool:
        name = user["metadata"]["name"]
        secret = await self.api.get(
            "v1", "Secret", PASSWORD_SECRET.format(user=name), self.config.system_namespace
        )
        stored = ((secret or {}).get("data") or {}).get("hash")
        if not stored:
            return False
        # scrypt takes a tenth of a second and 128 MiB: off the event loop
        hashed = base64.b64decode(stored).decode()
        return await asyncio.to_thread(passwords.verify, password, hashed)

    async def projects(self) -> list[dict[str, Any]]:
        if self._projects.synced:
            return [copy.deepcopy(p) for p in self._projects.objects.values()]
        return await self.api.list(IDENTITY, "Project")

    async def project_ids(self) -> dict[str, str]:
        """namespace -> the id of the project it is, for every project (no copies made)."""
        found = self._projects.objects.values() if self._projects.synced else \
            await self.api.list(IDENTITY, "Project")  # fmt: skip
        return {str((p.get("status") or {}).get("namespace")): str(p["metadata"]["uid"])
                for p in found if (p.get("status") or {}).get("namespace")}  # fmt: skip

    async def project(
        self, *, name: str | None = None, id: str | None = None
    ) -> dict[str, Any] | None:
        if name is not None:
            if self._projects.synced:
                return _copy(self._projects.get(name))
            return await self.api.get(IDENTITY, "Project", name)
        return next((p for p in await self.projects() if p["metadata"]["uid"] == id), None)

    @staticmethod
    def roles_on(project: Mapping[str, Any], user: str) -> tuple[str, ...]:
        """The user's roles on the project (its members), with the roles they imply."""
        spec = project.get("spec") or {}
        if not spec.get("enabled", True):
            return ()
        held = {m["role"] for m in spec.get("members") or [] if m.get("user") == user}
        return tuple(r for r in ("admin", "member", "reader") if any(
            r in IMPLIED[h] for h in held))  # fmt: skip

    async def user_projects(self, user: str) -> list[dict[str, Any]]:
        """The projects the user has a role on; not one being deleted, which is gone to
        Keystone's clients at once (keystone_admin)."""
        return [
            p
            for p in await self.projects()
            if self.roles_on(p, user) and not p["metadata"].get("deletionTimestamp")
        ]

    # -- tokens ------------------------------------------------------------------------------

    async def verify(self, text: str | None) -> Identity:
        """The identity a token gives, or Keystone's 401."""
        if not text:
            raise Fault(401, UNAUTHORIZED, style="keystone")
        now = datetime.datetime.now(datetime.UTC)
        keys = await self.keys()
        if keys != self._verified_with:  # a rotation: a key gone takes its tokens with it
            self._verified, self._verified_with = {}, keys
        token = self._verified.get(text)
        try:
            if token is None:
                token = tokens.verify(keys, text, now=now)
                if len(self._verified) >= VERIFIED_KEPT:
                    self._verified.clear()
                self._verified[text] = token
            elif token.expires_at <= now:
                raise tokens.TokenError("the token has expired")
        except tokens.TokenError:
            raise Fault(401, UNAUTHORIZED, style="keystone") from None
        revoked = await self.revoked()
        if token.audit_id in revoked or (token.audit_chain or "") in revoked:
            raise Fault(401, UNAUTHORIZED, style="keystone")
        credential = token.application_credential
        if credential and f"credential.{credential}" in revoked:
            raise Fault(401, UNAUTHORIZED, style="keystone")
        # The kept objects themselves, not copies (a show should not copy a Project): an
        # Identity's user and project are read, never changed.
        user = (
            self._users.get(token.user) if self._users.synced else await self.user_named(token.user)
        )
        if user is None or not (user.get("spec") or {}).get("enabled", True):
            raise Fault(401, UNAUTHORIZED, style="keystone")
        changed = (user.get("status") or {}).get("passwordChangedAt")
        if changed and _parse(changed) > token.issued_at:  # issued before the password changed
            raise Fault(401, UNAUTHORIZED, style="keystone")
        project: dict[str, Any] | None = None
        roles: tuple[str, ...] = ()
        if token.project_id is not None:
            # One GET by the name the token carries (never a list per request), the same
            # project only if its uid is the one the token was issued for.
            if token.project_name:
                project = (
                    self._projects.get(token.project_name)
                    if self._projects.synced
                    else await self.project(name=token.project_name)
                )
            if project is not None and project["metadata"]["uid"] != token.project_id:
                project = None
            roles = self.roles_on(project, token.user) if project else ()
            if token.roles is not None:  # an application credential keeps only its own
                roles = tuple(r for r in roles if r in token.roles)
            if not roles:
                raise Fault(401, UNAUTHORIZED, style="keystone")
        return Identity(token, user, project, roles)


def _copy(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A cached object's copy: callers change what they are given."""
    return copy.deepcopy(obj) if obj is not None else None


def _parse(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def iso(moment: datetime.datetime) -> str:
    """Keystone's timestamps: microseconds and a Z."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))
