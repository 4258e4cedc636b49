"""Nimbus: an OpenStack-style cloud realised as Kubernetes custom resources."""
