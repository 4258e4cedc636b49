"""Glance's part: images."""
