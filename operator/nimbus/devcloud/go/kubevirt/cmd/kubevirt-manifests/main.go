// Command kubevirt-manifests prints, as one JSON list, the objects virt-operator would install
// for virt-api and virt-controller in a namespace: every CRD, the RBAC of the control plane and
// of virt-handler, virt-api's webhook configurations and its APIServices. They come from
// KubeVirt's own generators at the pinned version, so nothing of them is written by hand; the
// local cloud fills in what an operator would (the CA bundles, where virt-api listens).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
)

func main() {
	namespace := flag.String("namespace", "kubevirt", "the namespace virt-api and virt-controller run in")
	flag.Parse()

	crds := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
		components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
		components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
		components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
		components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
		components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
		components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
		components.NewVirtualMachineCloneCrd, components.NewVirtualMachineBackupCrd,
		components.NewVirtualMachineBackupTrackerCrd, components.NewKubeVirtCrd,
	}
	var objects []runtime.Object
	for _, make := range crds {
		crd, err := make()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		objects = append(objects, crd)
	}
	objects = append(objects, rbac.GetAllCluster()...)
	objects = append(objects, rbac.GetAllApiServer(*namespace)...)
	objects = append(objects, rbac.GetAllController(*namespace, true)...)
	objects = append(objects, rbac.GetAllHandler(*namespace)...)
	objects = append(objects,
		components.NewVirtAPIValidatingWebhookConfiguration(*namespace),
		components.NewVirtAPIMutatingWebhookConfiguration(*namespace),
	)
	for _, service := range components.NewVirtAPIAPIServices(*namespace) {
		objects = append(objects, service)
	}
	out, err := json.MarshalIndent(objects, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
