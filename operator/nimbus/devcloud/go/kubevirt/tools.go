//go:build tools

// Package tools records KubeVirt's control-plane commands so that go.sum covers them.
package tools

import (
	_ "kubevirt.io/kubevirt/cmd/virt-api"
	_ "kubevirt.io/kubevirt/cmd/virt-controller"
)
