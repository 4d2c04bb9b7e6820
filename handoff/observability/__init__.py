"""Operating the service: Prometheus metrics (`metrics.py`), readiness checks
(`health.py`) and structured logs with a request id (`logs.py`). See
docs/operations.md."""
