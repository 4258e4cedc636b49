//go:build tools

// Package tools records CDI's packages the mains under cmd/ build on, so that go.sum covers them.
package tools

import (
	_ "kubevirt.io/containerized-data-importer/cmd/cdi-apiserver"
	_ "kubevirt.io/containerized-data-importer/cmd/cdi-controller"
)
