"""`relais run`: serve the handoff service, optionally with the bot's processes.

Ctrl-C (SIGINT) or SIGTERM stops the service first, then the bot, cleanly. The
service's shutdown (docs/architecture.md, "Shutting down"): stop listening, tell
open WebSockets to reconnect (1012), let requests in flight finish for up to
`shutdown_timeout_seconds` (then cancel them), close the components, exit. A
watchdog thread ends the process if that ever takes longer than twice the setting
plus `WATCHDOG_MARGIN_SECONDS`, whatever hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import threading

from aiohttp import web

from handoff.app import create_app
from handoff.botmodels import CURRENT_LINK
from handoff.botprocess import TOKEN_FILE, BotProcesses, port_of, write_token_file
from handoff.config import Settings
from handoff.observability.logs import access_log_options, configure_logging

log = logging.getLogger("relais")
WATCHDOG_MARGIN_SECONDS = 10.0
WATCHDOG_EXIT_CODE = 70  # EX_SOFTWARE: the shutdown hung and was cut short


async def serve(settings: Settings, *, with_bot: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    bot: BotProcesses | None = None
    if with_bot:
        bot = BotProcesses(rasa_port=port_of(settings.rasa_url, 5005), actions_port=_actions_port(),
                           model=settings.models_dir / CURRENT_LINK)
        if settings.rasa_token:
            bot.auth_token = settings.rasa_token
        else:  # a random token: kept where `relais bot promote` on this machine finds it
            write_token_file(bot.auth_token)
        settings = dataclasses.replace(settings, rasa_token=bot.auth_token)
        await bot.start()
        print(f"bot: starting Rasa on {bot.url} and the action server (logs in {bot.log_dir})", flush=True)

    runner = web.AppRunner(
        create_app(settings),
        handle_signals=False,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        **access_log_options(),
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    base = settings.public_url
    print(
        f"\nRelais is running ({settings.backend} backend, store {settings.database_url.split('://')[0]}):\n"
        f"  demo shop with the widget  {base}/\n"
        f"  agents' console            {base}/console\n"
        f"  API (OpenAPI)              {base}/api/openapi.json\n"
        f"  health (live / ready)      {base}/healthz  {base}/readyz\n"
        f"  metrics (Prometheus)       {base}/metrics\n"
        "Add an agent: .venv/bin/relais agents add alice --role ambassador --languages fr,en --skills awning\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        if bot is not None:
            ready = asyncio.create_task(bot.wait_ready())
            await asyncio.wait({ready, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and ready.exception() is None:
                print(f"bot: ready at {bot.url}", flush=True)
            elif ready.done():
                print(f"bot: failed to start: {ready.exception()}", flush=True)
            else:
                ready.cancel()
        await stop.wait()
    finally:
        print("stopping…", flush=True)
        watchdog = _watchdog(2 * settings.shutdown_timeout_seconds + WATCHDOG_MARGIN_SECONDS)
        await runner.cleanup()
        watchdog.cancel()
        if bot is not None:
            await bot.stop()
            TOKEN_FILE.unlink(missing_ok=True)


def _watchdog(seconds: float) -> threading.Timer:
    """A thread (it runs even if the event loop is stuck) that ends the process after `seconds`."""

    def expire() -> None:
        log.error("the shutdown took more than %.0f s; exiting now", seconds)
        logging.shutdown()
        os._exit(WATCHDOG_EXIT_CODE)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def _actions_port() -> int:
    import yaml

    from handoff.config import DEFAULT_ENDPOINTS

    with contextlib.suppress(OSError, yaml.YAMLError, AttributeError, TypeError):
        document = yaml.safe_load(DEFAULT_ENDPOINTS.read_text())
        return port_of(str(document["action_endpoint"]["url"]), 5055)
    return 5055


def run(settings: Settings, *, with_bot: bool = False) -> None:
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(serve(settings, with_bot=with_bot))
