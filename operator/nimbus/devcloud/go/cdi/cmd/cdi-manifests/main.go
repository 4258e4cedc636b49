// Command cdi-manifests prints, as one JSON list, the objects cdi-operator would install for
// cdi-apiserver and cdi-controller in a namespace: every CRD the two read or watch (CDI's own
// among them, as the config controller watches CDI objects, and the forklift populators', which
// the forklift populator watches), the cluster and namespaced RBAC and service accounts of the
// two and the aggregated user roles, cdi-apiserver's webhook configurations and its APIService.
// They come from CDI's own generators at the pinned version, so nothing of them is written by
// hand. Left out: the Deployments and the Services (the local cloud runs the two binaries on
// 127.0.0.1 and names that in a Service of its own) and what upload proxy and cron jobs use;
// the local cloud fills in what an operator would (the CA bundles).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kubevirt.io/containerized-data-importer/pkg/common"
	"kubevirt.io/containerized-data-importer/pkg/operator/resources/cluster"
	"kubevirt.io/containerized-data-importer/pkg/operator/resources/namespaced"
	"kubevirt.io/containerized-data-importer/pkg/operator/resources/operator"
)

func main() {
	namespace := flag.String("namespace", "cdi", "the namespace cdi-apiserver and cdi-controller run in")
	flag.Parse()

	objects := []client.Object{operator.NewCdiCrd()}
	// Static cluster resources (CDI's CreateAllStaticResources, in a fixed order), then the
	// dynamic ones: without a client the generators leave the CA bundles empty.
	clusterArgs := &cluster.FactoryArgs{Namespace: *namespace}
	for _, group := range []string{"crd-resources", "apiserver-rbac", "controller-rbac", "aggregate-roles"} {
		objects = append(objects, must(cluster.CreateStaticResourceGroup(group, clusterArgs))...)
	}
	namespacedArgs := &namespaced.FactoryArgs{
		Namespace:  *namespace,
		Verbosity:  "1",
		PullPolicy: common.DefaultPullPolicy,
	}
	for _, group := range []string{"apiserver", "controller"} {
		for _, object := range must(namespaced.CreateResourceGroup(group, namespacedArgs)) {
			switch object.GetObjectKind().GroupVersionKind().Kind {
			case "ServiceAccount", "Role", "RoleBinding":
				objects = append(objects, object)
			}
		}
	}
	objects = append(objects, must(cluster.CreateDynamicResourceGroup("apiserver-registrations", clusterArgs))...)

	for _, object := range objects {
		gvk := object.GetObjectKind().GroupVersionKind()
		if gvk.Version == "" || gvk.Kind == "" {
			fail(fmt.Errorf("%s has no apiVersion or kind", object.GetName()))
		}
	}
	out, err := json.MarshalIndent(objects, "", " ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func must(objects []client.Object, err error) []client.Object {
	if err != nil {
		fail(err)
	}
	return objects
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
