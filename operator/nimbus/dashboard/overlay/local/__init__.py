"""Horizon's `local` package: only local_settings is ours."""
