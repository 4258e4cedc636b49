"""The local control plane: real Kubernetes components built from the Go module proxy."""
