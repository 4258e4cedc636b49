"""The labels and annotations a Server's virt-launcher pod carries for placement: written by
compute/render.py, read by scheduler/request.py (kube-scheduler's extender sees only the pod).
One list, so the two sides cannot drift. Names only: no kopf, no client."""

from __future__ import annotations

PREFIX = "compute.nimbus.dev"

# labels
SERVER = f"{PREFIX}/server"
FLAVOR = f"{PREFIX}/flavor"
VCPUS = f"{PREFIX}/vcpus"
MEMORY_MB = f"{PREFIX}/memory-mb"
DISK_GB = f"{PREFIX}/disk-gb"
SERVER_GROUP = f"{PREFIX}/server-group"
PROJECT = "identity.nimbus.dev/project"

# annotations (JSON, but IMAGE)
FLAVOR_SPEC = f"{PREFIX}/flavor-spec"
IMAGE = f"{PREFIX}/image"
SCHEDULER_HINTS = f"{PREFIX}/scheduler-hints"
IMAGE_PROPERTIES = f"{PREFIX}/image-properties"
