"""The `rasa_server` fixture: the REAL bot (Rasa server + action server, trained model).

A thin wrapper around the project's one launcher, `handoff.botprocess.BotProcesses`
(the one `relais run --with-bot` uses): it starts both processes from the bot's
environment on two free ports (never 5005/5055, so a developer's `make run` can
keep running), waits until the model is loaded and the action server answers,
yields the Rasa server's base URL (`http://127.0.0.1:<port>`), and stops both at
the end of the session; `rasa_token` is the token its HTTP API wants. If the bot cannot start, every test that needs it fails
with the end of both logs. The model must exist (`make model`; `make pytest`
depends on it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff.botprocess import BotProcesses, BotStartError, free_ports


@pytest.fixture(scope="session")
def rasa_bot() -> Iterator[BotProcesses]:
    """The running bot: Rasa server with the trained model and the real actions."""
    rasa_port, actions_port = free_ports(2)
    bot = BotProcesses(rasa_port=rasa_port, actions_port=actions_port)
    try:
        bot.launch()
        bot.wait_until_ready()
    except BotStartError as exc:
        bot.terminate()
        pytest.fail(f"could not start the bot: {exc}", pytrace=False)
    try:
        yield bot
    finally:
        bot.terminate()


@pytest.fixture(scope="session")
def rasa_server(rasa_bot: BotProcesses) -> str:
    """Base URL of the running Rasa server."""
    return rasa_bot.url


@pytest.fixture(scope="session")
def rasa_token(rasa_bot: BotProcesses) -> str:
    """The token its HTTP API wants (`relais.bot.token`)."""
    return rasa_bot.auth_token
