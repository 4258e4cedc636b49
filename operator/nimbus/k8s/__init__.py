"""The API client: the only code that talks to the API server."""
