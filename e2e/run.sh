#!/usr/bin/env bash
# `make e2e`: Nimbus end to end on kind, with real KubeVirt (software emulation when /dev/kvm is
# absent), CDI, Multus, whereabouts and the CSI hostpath driver with external-snapshotter. It
# builds the image, loads it into kind, installs the chart, applies examples/, and proves:
# a CirrOS server ACTIVE that really booted (its serial console's login prompt, and a ping from
# a pod on its network), a volume attached to it, a stack, and a quota refusal. Then it tears
# everything down (E2E_KEEP=1 keeps the cluster). Needs Docker, kind, kubectl, helm and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=e2e/versions.env
source e2e/versions.env

CLUSTER=nimbus-e2e
IMAGE=ghcr.io/nimbus-cloud/nimbus:e2e
WORK=$(mktemp -d)
export KUBECONFIG="$WORK/kubeconfig"

log() { printf '\n== %s\n' "$*"; }
fail() { printf 'e2e FAILED: %s\n' "$*" >&2; exit 1; }

teardown() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    log "state at failure"
    kubectl get nimbus -A -o wide || true
    kubectl get vm,vmi,dv,pvc,pods -A -o wide || true
    kubectl -n nimbus-system logs deploy/nimbus-operator --tail=200 || true
  fi
  if [ "${E2E_KEEP:-0}" != 1 ]; then
    kind delete cluster --name "$CLUSTER" || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap teardown EXIT

wait_for() { # wait_for <resource> <jsonpath> <value> [kubectl args...]
  local what=$1 path=$2 value=$3
  shift 3
  kubectl wait "$what" "--for=jsonpath=$path=$value" --timeout=900s "$@"
}

for tool in docker kind kubectl helm curl; do
  command -v "$tool" >/dev/null || fail "$tool is needed"
done

log "kind cluster ($KIND_NODE_IMAGE)"
kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --config e2e/kind-config.yaml \
  --kubeconfig "$KUBECONFIG" --wait 120s

log "KubeVirt $KUBEVIRT_VERSION"
kubectl apply -f "https://github.com/kubevirt/kubevirt/releases/download/$KUBEVIRT_VERSION/kubevirt-operator.yaml"
kubectl apply -f "https://github.com/kubevirt/kubevirt/releases/download/$KUBEVIRT_VERSION/kubevirt-cr.yaml"
# Nimbus attaches and detaches volumes through the VM's template: KubeVirt carries that to the
# running instance with this gate (docs/helm.md's prerequisites).
kubectl -n kubevirt patch kubevirt kubevirt --type merge \
  -p '{"spec":{"configuration":{"developerConfiguration":{"featureGates":["DeclarativeHotplugVolumes"]}}}}'
if [ ! -e /dev/kvm ]; then
  log "no /dev/kvm: KubeVirt emulates (slow, but real)"
  kubectl -n kubevirt patch kubevirt kubevirt --type merge \
    -p '{"spec":{"configuration":{"developerConfiguration":{"useEmulation":true}}}}'
fi

log "CDI $CDI_VERSION"
kubectl apply -f "https://github.com/kubevirt/containerized-data-importer/releases/download/$CDI_VERSION/cdi-operator.yaml"
kubectl apply -f "https://github.com/kubevirt/containerized-data-importer/releases/download/$CDI_VERSION/cdi-cr.yaml"

log "Multus $MULTUS_VERSION and whereabouts $WHEREABOUTS_VERSION"
kubectl apply -f "https://raw.githubusercontent.com/k8snetworkplumbingwg/multus-cni/$MULTUS_VERSION/deployments/multus-daemonset-thick.yml"
for file in daemonset-install.yaml whereabouts.cni.cncf.io_ippools.yaml \
  whereabouts.cni.cncf.io_overlappingrangeipreservations.yaml; do
  kubectl apply -f "https://raw.githubusercontent.com/k8snetworkplumbingwg/whereabouts/$WHEREABOUTS_VERSION/doc/crds/$file"
done

log "external-snapshotter $SNAPSHOTTER_VERSION and the CSI hostpath driver $HOSTPATH_DRIVER_VERSION"
SNAPSHOTTER="https://raw.githubusercontent.com/kubernetes-csi/external-snapshotter/$SNAPSHOTTER_VERSION"
for kind in volumesnapshotclasses volumesnapshotcontents volumesnapshots; do
  kubectl apply -f "$SNAPSHOTTER/client/config/crd/snapshot.storage.k8s.io_$kind.yaml"
done
kubectl apply -f "$SNAPSHOTTER/deploy/kubernetes/snapshot-controller/rbac-snapshot-controller.yaml"
kubectl apply -f "$SNAPSHOTTER/deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml"
curl -fsSL "https://github.com/kubernetes-csi/csi-driver-host-path/archive/refs/tags/$HOSTPATH_DRIVER_VERSION.tar.gz" \
  | tar -xz -C "$WORK"
"$WORK/csi-driver-host-path-${HOSTPATH_DRIVER_VERSION#v}/deploy/kubernetes-latest/deploy.sh"
kubectl annotate storageclass standard storageclass.kubernetes.io/is-default-class- || true
kubectl apply -f e2e/manifests/storage.yaml

log "waiting for KubeVirt and CDI"
kubectl -n kubevirt wait kv kubevirt --for condition=Available --timeout=900s
kubectl wait cdi cdi --for condition=Available --timeout=600s

log "the Nimbus image ($IMAGE), loaded into kind"
make image IMAGE="$IMAGE"
kind load docker-image "$IMAGE" --name "$CLUSTER"

log "the chart"
helm install nimbus charts/nimbus -n nimbus-system --create-namespace \
  -f e2e/values-kind.yaml --wait --timeout 5m
helm test nimbus -n nimbus-system --timeout 5m

log "examples/"
kubectl apply --server-side -f examples/00-project.yaml
wait_for project.identity.nimbus.dev/demo '{.status.status}' ACTIVE
kubectl apply --server-side -R -f examples/
wait_for servers.compute.nimbus.dev '{.status.status}' ACTIVE --all -n demo
wait_for stacks.orchestration.nimbus.dev '{.status.stackStatus}' CREATE_COMPLETE --all -n demo

log "the VM booted: CirrOS's login prompt on web-1's serial console"
curl -fsSL -o "$WORK/virtctl" \
  "https://github.com/kubevirt/kubevirt/releases/download/$VIRTCTL_VERSION/virtctl-$VIRTCTL_VERSION-linux-amd64"
chmod +x "$WORK/virtctl"
booted=0
for _ in $(seq 1 60); do
  if timeout 20 "$WORK/virtctl" console -n demo web-1 --timeout 1 </dev/null 2>/dev/null \
      | grep -q "login:"; then
    booted=1
    break
  fi
  sleep 10
done
[ "$booted" = 1 ] || fail "no login prompt on web-1's console"

log "and it answers a ping on its network"
kubectl apply -f e2e/manifests/ping.yaml
kubectl -n demo wait pod/ping --for condition=Ready --timeout=300s
address=$(kubectl -n demo get server web-1 -o jsonpath='{.status.addresses.private[0].addr}')
kubectl -n demo exec ping -- ping -c 3 -W 5 "$address"

log "a volume attached to a running server"
kubectl apply -f e2e/manifests/attach.yaml
wait_for volume.blockstorage.nimbus.dev/e2e-attach '{.status.status}' available -n demo
kubectl -n demo patch server web-2 --type json \
  -p '[{"op":"add","path":"/spec/volumes/-","value":{"volume":"e2e-attach"}}]'
wait_for volume.blockstorage.nimbus.dev/e2e-attach '{.status.status}' in-use -n demo

log "pause and unpause, through KubeVirt's virt-api"
kubectl -n demo patch server web-2 --type merge -p '{"spec":{"powerState":"Paused"}}'
wait_for server/web-2 '{.status.status}' PAUSED -n demo
wait_for vmi/web-2 '{.status.conditions[?(@.type=="Paused")].status}' True -n demo
kubectl -n demo patch server web-2 --type merge -p '{"spec":{"powerState":"Running"}}'
wait_for server/web-2 '{.status.status}' ACTIVE -n demo

log "a quota refusal"
kubectl apply -f e2e/manifests/quota.yaml
wait_for project.identity.nimbus.dev/e2e-quota '{.status.status}' ACTIVE
if kubectl apply -f e2e/manifests/quota-servers.yaml 2>"$WORK/quota.err"; then
  fail "a second server over an instance quota of 1 was accepted"
fi
# Nova's words from the webhook, or the ResourceQuota's, whichever admission refuses first.
grep -Eq "Quota exceeded for instances|exceeded quota: nimbus-quota" "$WORK/quota.err" \
  || fail "$(cat "$WORK/quota.err")"

log "e2e passed"
