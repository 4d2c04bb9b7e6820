"""tests/bot: the service environment runs test_rasa_server.py here.

tests/bot/actions/ holds the unit tests of the custom actions; they import rasa_sdk,
which only the bot environment (.venv-bot) has, so the service's pytest must not
collect them. `make bot-test` runs them with the bot environment's pytest.
"""

collect_ignore = ["actions"]
