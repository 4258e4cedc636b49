"""Cinder's part: volume types, volumes and snapshots."""
