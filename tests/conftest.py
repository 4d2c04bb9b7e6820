"""Fixtures shared by the whole suite live in tests/support/; they are registered here."""

pytest_plugins = [
    "tests.support.db",
    "tests.support.backends",
    "tests.support.rasa",
    "tests.support.service",
]
