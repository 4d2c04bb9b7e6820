"""The fault tests run the service as real processes (tests/faults/harness.py)."""

from tests.faults.harness import processes

__all__ = ["processes"]
