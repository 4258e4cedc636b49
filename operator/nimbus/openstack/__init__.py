"""Nimbus's OpenStack API: Keystone v3 and the service APIs over the same custom resources."""
