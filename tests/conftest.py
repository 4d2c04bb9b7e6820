"""Fixtures shared by the whole suite live in tests/support/; they are registered here.

Also here: the Hypothesis profiles and the run's seed. Every run uses one seed for
all Hypothesis tests, HYPOTHESIS_SEED from the environment or a fresh one, printed
in the header and the summary so a failing run can be replayed exactly
(docs/contributing.md). With CI=true the "ci" profile also prints a reproduction
blob for each failure; both profiles keep failing examples under
reports/hypothesis/ (kept as a CI artefact), which later runs replay first.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

pytest.register_assert_rewrite("tests.support")
from tests.support.variants import in_ci  # noqa: E402 - after the rewrite hook

pytest_plugins = [
    "tests.support.db",
    "tests.support.backends",
    "tests.support.rasa",
    "tests.support.service",
    "tests.support.threaded",
    "tests.support.misbehaving_rasa",
    "tests.support.smtp_sink",
    "tests.support.variants",
    "pytester",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = DirectoryBasedExampleDatabase(str(REPO_ROOT / "reports" / "hypothesis"))
SEED_VARIABLE = "HYPOTHESIS_SEED"

# No per-example deadline: a loaded 2-core machine would turn slowness into failures.
settings.register_profile("dev", database=EXAMPLES, deadline=None)
settings.register_profile("ci", database=EXAMPLES, deadline=None, print_blob=True, derandomize=False)
settings.load_profile("ci" if in_ci() else "dev")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Choose the run's seed before Hypothesis' own plugin reads --hypothesis-seed."""
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = os.environ.get(SEED_VARIABLE) or str(random.randrange(2**32))
    os.environ[SEED_VARIABLE] = str(config.option.hypothesis_seed)  # passed on to subprocesses


def _replay_hint(config: pytest.Config) -> str:
    seed = config.option.hypothesis_seed
    return f"hypothesis seed {seed} (replay: {SEED_VARIABLE}={seed} make pytest PYTEST_ARGS=...)"


def pytest_report_header(config: pytest.Config) -> str:
    return _replay_hint(config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    terminalreporter.write_line(_replay_hint(config))
