"""Horizon's local settings: Nimbus's, from the environment (nimbus.dashboard.settings)."""

from nimbus.dashboard.settings import *  # noqa: F403
