"""HTTP and WebSocket edges: parse and validate, call one service method, serialise.

`routes.setup_routes(app)` registers every handler; `errors.error_middleware`
turns domain errors into JSON answers.
"""
