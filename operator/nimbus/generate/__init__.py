"""Build-time generators (CRDs, the chart, docs, Argo CD health, RBAC).

Imported by no runtime module (an import-linter contract in `make lint`)."""
