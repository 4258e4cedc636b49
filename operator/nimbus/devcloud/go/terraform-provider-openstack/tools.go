//go:build tools

// Package tools records the provider's command so that go.sum covers it.
package tools

import _ "github.com/terraform-provider-openstack/terraform-provider-openstack/v3"
