"""Placement: Nova's filter/weigh scheduler (engine.py is pure)."""
