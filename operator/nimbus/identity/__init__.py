"""Keystone's part: projects, their members and quotas."""
