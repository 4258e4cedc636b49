//go:build tools

// Package tools records the KWOK command so that go.sum covers it.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
