"""Argo CD health checks for every Nimbus kind, as Lua scripts (Argo CD gives custom resources
no health of its own, so an Application of Nimbus objects would never be Healthy without them).

One rule for every kind, with each kind's own status words:

- Degraded: an error word (Nova's ERROR, Glance's killed, Cinder's error*, Heat's *_FAILED and
  ROLLBACK_COMPLETE), with the fault's or the Ready condition's message;
- Healthy: the Ready condition True for the current generation (observedGeneration);
- Progressing: anything else (no status yet, BUILD, saving, CREATE_IN_PROGRESS, a reference
  waited for), with the Ready condition's message.

The scripts go into argocd-cm as `resource.customizations.health.<group>_<Kind>` (the chart
renders them with `argocd.healthChecks`; docs/argocd.md has the snippet).
"""

from __future__ import annotations

from nimbus.api import kinds

# Per kind: its status field, and the words that mean it failed.
DEGRADED: dict[str, tuple[str, frozenset[str]]] = {
    "Project": ("status", frozenset({"ERROR"})),
    "Server": ("status", frozenset({"ERROR"})),
    "Image": ("status", frozenset({"killed"})),
    "Network": ("status", frozenset({"ERROR"})),
    "Port": ("status", frozenset({"ERROR"})),
    "Volume": ("status", frozenset({"error", "error_deleting", "error_restoring",
                                    "error_extending"})),
    "Snapshot": ("status", frozenset({"error", "error_deleting"})),
    "Router": ("status", frozenset({"ERROR"})),
    "FloatingIP": ("status", frozenset({"ERROR"})),
    # Octavia: provisioning_status ERROR (an operating status is the traffic's, not the
    # object's: a member DOWN is reported, not Degraded in Argo CD).
    "LoadBalancer": ("provisioningStatus", frozenset({"ERROR"})),
    "Listener": ("provisioningStatus", frozenset({"ERROR"})),
    "Pool": ("provisioningStatus", frozenset({"ERROR"})),
    "Member": ("provisioningStatus", frozenset({"ERROR"})),
    "HealthMonitor": ("provisioningStatus", frozenset({"ERROR"})),
    # Heat: any action's FAILED, and a rollback (the create or update it undid failed).
    "Stack": ("stackStatus", frozenset({"ROLLBACK_COMPLETE"})),
}  # fmt: skip
FAILED_SUFFIX = {"Stack": "_FAILED"}

_SCRIPT = """\
local hs = {{}}
local degraded = {{{degraded}}}
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Nimbus operator to report"
  return hs
end
local word = status["{field}"]
local ready = nil
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
local message = ""
if ready ~= nil and ready.message ~= nil then
  message = ready.message
end
local failed = {suffix} ~= "" and word ~= nil and string.sub(word, -{length}) == {suffix}
if word ~= nil and (degraded[word] or failed) then
  if status.fault ~= nil and status.fault.message ~= nil then
    message = status.fault.message
  end
  if status.stackStatusReason ~= nil then
    message = status.stackStatusReason
  end
  hs.status = "Degraded"
  hs.message = word .. ": " .. message
  return hs
end
local observed = status.observedGeneration
local current = observed ~= nil and observed == obj.metadata.generation
if ready ~= nil and ready.status == "True" and current then
  hs.status = "Healthy"
  hs.message = word or "Ready"
  return hs
end
hs.status = "Progressing"
if word ~= nil and message ~= "" then
  hs.message = word .. ": " .. message
elseif word ~= nil then
  hs.message = word
else
  hs.message = message
end
return hs
"""


def script(kind_name: str) -> str:
    field, words = DEGRADED.get(kind_name, ("status", frozenset()))
    suffix = FAILED_SUFFIX.get(kind_name, "")
    return _SCRIPT.format(
        degraded=", ".join(f'["{w}"] = true' for w in sorted(words)),
        field=field,
        suffix=f'"{suffix}"',
        length=len(suffix) or 1,
    )


def health_checks() -> dict[str, str]:
    """argocd-cm's keys: `resource.customizations.health.<group>_<Kind>` -> the Lua script."""
    return {
        f"resource.customizations.health.{k.group}_{k.kind_name()}": script(k.kind_name())
        for k in kinds.ALL
    }
