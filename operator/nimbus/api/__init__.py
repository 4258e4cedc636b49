"""The kinds' model machinery and their registry."""
