"""Counts the tests that ran on each backend variant, and fails a CI run that lost one.

The PostgreSQL and Redis variants exist only when TEST_DATABASE_URL / TEST_REDIS_URL
are set, the browser tests need Chromium and the real-Rasa tests the bot: any of
them can vanish from a run that still looks green. This plugin prints one line
per variant at the end of every run (passed / failed / skipped). With `CI=true`
the session fails, naming the variant, when a variant ran no test or skipped one.

A test belongs to a variant by the parameter id of the fixture that selects the
backend (`database_url`, `routing_backend_kind`, `stack`) or by its marker
(`browser`, `rasa`, or the `rasa_bot` fixture).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

CI_VARIABLE = "CI"


@dataclass(frozen=True)
class Variant:
    label: str
    applies: Callable[[pytest.Item], bool]


def _param(fixture: str, value: str) -> Callable[[pytest.Item], bool]:
    def applies(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        return callspec is not None and callspec.params.get(fixture) == value

    return applies


def _marked(marker: str, fixture: str | None = None) -> Callable[[pytest.Item], bool]:
    def applies(item: pytest.Item) -> bool:
        uses_fixture = fixture is not None and fixture in getattr(item, "fixturenames", ())
        return item.get_closest_marker(marker) is not None or uses_fixture

    return applies


VARIANTS = (
    Variant("store sqlite", _param("database_url", "sqlite")),
    Variant("store postgresql", _param("database_url", "postgresql")),
    Variant("routing memory", _param("routing_backend_kind", "memory")),
    Variant("routing redis", _param("routing_backend_kind", "redis")),
    Variant("stack sqlite-memory", _param("stack", "sqlite-memory")),
    Variant("stack postgresql-redis", _param("stack", "postgresql-redis")),
    Variant("browser", _marked("browser")),
    Variant("real rasa", _marked("rasa", fixture="rasa_bot")),
)
OUTCOMES = ("passed", "failed", "skipped")


def in_ci() -> bool:
    return os.environ.get(CI_VARIABLE, "").strip().lower() == "true"


class VariantCounter:
    """Collects each test's final outcome and adds it to its variants' counts."""

    def __init__(self) -> None:
        self.variants_of: dict[str, list[str]] = {}
        self.outcome_of: dict[str, str] = {}
        self.problems: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.variants_of[item.nodeid] = [v.label for v in VARIANTS if v.applies(item)]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        previous = self.outcome_of.get(report.nodeid)
        if report.failed:
            self.outcome_of[report.nodeid] = "failed"
        elif previous == "failed":
            return
        elif report.skipped:
            self.outcome_of[report.nodeid] = "skipped"
        elif report.when == "call":
            self.outcome_of[report.nodeid] = "passed"

    def counts(self) -> dict[str, Counter[str]]:
        counts: dict[str, Counter[str]] = {v.label: Counter() for v in VARIANTS}
        for nodeid, outcome in self.outcome_of.items():
            for label in self.variants_of.get(nodeid, ()):
                counts[label][outcome] += 1
        return counts

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not in_ci():
            return
        for label, count in self.counts().items():
            if count["passed"] + count["failed"] == 0:
                self.problems.append(f"variant '{label}' ran no test")
            elif count["skipped"]:
                self.problems.append(f"variant '{label}' skipped {count['skipped']} test(s)")
        if self.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.section("tests per variant")
        width = max(len(v.label) for v in VARIANTS)
        for label, count in self.counts().items():
            figures = ", ".join(f"{count[o]} {o}" for o in OUTCOMES)
            terminalreporter.write_line(f"variant {label:<{width}}  {figures}")
        for problem in self.problems:
            terminalreporter.write_line(f"CI=true: FAILED: {problem}", red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(VariantCounter(), "relais-variant-counter")
