"""The variant counter (tests/support/variants.py), tried on small pytest runs of its own.

Each run is a pytest subprocess on the suite's real fixtures (`database_url`,
`routing_backend_kind`, `stack`) whose variants depend, as in the real suite, on
TEST_DATABASE_URL and TEST_REDIS_URL, plus one test per marker.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("TEST_DATABASE_URL", "TEST_REDIS_URL")

CONFTEST = """
pytest_plugins = [
    "tests.support.db", "tests.support.backends", "tests.support.rasa",
    "tests.support.service", "tests.support.variants",
]
"""
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
markers =
    rasa: real bot
    browser: real browser
"""
ONE_TEST_PER_VARIANT = """
import pytest

async def test_store(database_url):
    assert database_url

def test_routing(routing_backend_kind):
    assert routing_backend_kind

def test_stack(stack):
    assert stack

@pytest.mark.browser
def test_browser():
    assert True

@pytest.mark.rasa
def test_rasa():
    assert True
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("CI", "true")
    return pytester


def servers_configured() -> None:
    missing = [name for name in SERVERS if not os.environ.get(name)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: run through `make pytest`, which sets them", pytrace=False)


def test_a_full_run_passes_in_ci_and_prints_every_variant(run: pytest.Pytester) -> None:
    servers_configured()
    run.makepyfile(ONE_TEST_PER_VARIANT)
    result = run.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    assert result.ret == pytest.ExitCode.OK
    for label in ("store sqlite", "store postgresql", "routing memory", "routing redis",
                  "stack sqlite-memory", "stack postgresql-redis", "browser", "real rasa"):
        result.stdout.re_match_lines([rf"variant {label} +1 passed, 0 failed, 0 skipped"])
    result.stdout.no_fnmatch_line("*CI=true: FAILED*")


def test_a_ci_run_without_redis_fails_naming_the_redis_variants(
    run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    run.makepyfile(ONE_TEST_PER_VARIANT)
    result = run.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.re_match_lines([r"variant routing redis +0 passed, 0 failed, 0 skipped"])
    result.stdout.fnmatch_lines([
        "*CI=true: FAILED: variant 'routing redis' ran no test*",
        "*CI=true: FAILED: variant 'stack postgresql-redis' ran no test*",
    ])


def test_a_skipped_test_fails_its_variant_in_ci_only(run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVERS:
        monkeypatch.delenv(name, raising=False)
    run.makepyfile("""
        import pytest

        @pytest.mark.browser
        def test_no_chromium():
            pytest.skip("chromium is missing")

        @pytest.mark.browser
        def test_other():
            assert True
    """)
    result = run.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.re_match_lines([r"variant browser +1 passed, 0 failed, 1 skipped"])
    result.stdout.fnmatch_lines(["*CI=true: FAILED: variant 'browser' skipped 1 test(s)*"])

    monkeypatch.setenv("CI", "false")
    relaxed = run.runpytest_subprocess("-p", "no:cacheprovider")
    assert relaxed.ret == pytest.ExitCode.OK
    relaxed.stdout.re_match_lines([r"variant browser +1 passed, 0 failed, 1 skipped"])
