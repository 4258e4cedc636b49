"""Heat's part: stacks of HOT templates."""
