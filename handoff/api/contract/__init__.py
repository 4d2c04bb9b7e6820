"""The HTTP API's contract, defined once: request and response bodies as typed
pydantic models (one module per area), the `Api.route` decorator that records
each edge, and `read_body` / `read_query` that validate input against the models.
The OpenAPI document (`handoff/api/openapi.py`) and docs/api.md's endpoint table
are generated from the same records."""

from handoff.api.contract.route import Api, Operation, read_body, read_query

__all__ = ["Api", "Operation", "read_body", "read_query"]
