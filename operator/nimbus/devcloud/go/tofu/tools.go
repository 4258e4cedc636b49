//go:build tools

// Package tools records the OpenTofu command so that go.sum covers it.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
