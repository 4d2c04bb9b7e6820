"""Relais handoff service: conversation store, bot bridge, routing, realtime relay, API and console."""

__version__ = "0.1.0"
