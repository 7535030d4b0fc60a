"""The serving stage: the HTTP API and the catalog of shipped models."""
