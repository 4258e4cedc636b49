"""The operator's runtime: handler registration, indexes, status reports, templating, metrics."""
