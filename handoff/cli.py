"""`relais`: the project's command line (the console script of `.venv`).

    relais run [--with-bot]                 serve the service (and the bot's processes)
    relais db upgrade                       migrate the database to the latest schema
    relais agents add NAME --role ambassador --languages fr,en [--skills awning,solar]
                          [--capacity 3] [--display-name "Alice"]   (password on stdin)
    relais agents list
    relais agents set NAME [--role …] [--languages …] [--skills …] [--capacity N]
                          [--display-name …] [--password]          (new password on stdin)
    relais agents remove NAME
    relais bot off|on [--intent NAME]...    switch the bot (or only these intents) off or on
    relais bot status
    relais review [--stats] [label|export]  what the bot did not handle well (handoff/review_cli.py)
    relais bot train [--config FILE] [--data DIR] [--domain PATH] [--force]
                                            train bot/models/relais-<sha12>.tar.gz (if not there yet)
    relais bot models                       the trained models, the current one, the history
    relais bot promote MODEL                load a model into the running Rasa server
    relais bot rollback                     go back to the model promoted before the current one

Configuration comes from `endpoints.yml` and the environment (`DATABASE_URL`, …),
validated by `handoff.config.load_settings`; errors are printed in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from handoff import review_cli
from handoff.agents import AgentService
from handoff.app import make_bus, make_switch_store
from handoff.botmodels import CURRENT_LINK, ModelPromoter, ModelShelf, RasaModels
from handoff.botprocess import read_token_file
from handoff.botswitch import BotLeash, BotSwitch, intents
from handoff.config import ConfigError, Settings, load_settings
from handoff.domain import Agent, AgentRole, DomainError
from handoff.events import SessionEnded
from handoff.realtime import agent_channel
from handoff.store import open_store, upgrade
from handoff.visitor_data import VisitorData

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _read_password(prompt: str) -> str:
    """From the terminal (asked twice), or the first line of stdin when piped."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            raise DomainError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _row(agent: Agent) -> str:
    skills = ",".join(agent.skills) or "-"
    return (
        f"{agent.username:<16} {agent.role.value:<10} {','.join(agent.languages):<6} "
        f"{skills:<30} {agent.capacity:>3}  {agent.display_name}" + ("" if agent.active else "  (deactivated)")
    )


async def _with_agents(settings: Settings, action: Callable[[AgentService], Awaitable[int]]) -> int:
    store = await open_store(settings.database_url)
    try:
        return await action(AgentService(store))
    finally:
        await store.close()


async def agents_add(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(f"password for {args.username}: ")

    async def add(agents: AgentService) -> int:
        agent = await agents.create(
            username=args.username,
            password=password,
            role=AgentRole(args.role),
            languages=_csv(args.languages),
            skills=_csv(args.skills or ""),
            capacity=args.capacity if args.capacity is not None else settings.routing.default_capacity,
            display_name=args.display_name,
        )
        print(f"added {agent.role.value} {agent.username} ({agent.id})")
        return 0

    return await _with_agents(settings, add)


async def agents_list(args: argparse.Namespace, settings: Settings) -> int:
    async def show(agents: AgentService) -> int:
        print(f"{'USERNAME':<16} {'ROLE':<10} {'LANG':<6} {'SKILLS':<30} CAP  NAME")
        for agent in await agents.list():
            print(_row(agent))
        return 0

    return await _with_agents(settings, show)


async def agents_set(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(f"new password for {args.username}: ") if args.password else None

    async def change(agents: AgentService) -> int:
        agent = await agents.get_by_username(args.username)
        updated = await agents.update(
            agent.id,
            role=AgentRole(args.role) if args.role else None,
            languages=_csv(args.languages) if args.languages is not None else None,
            skills=_csv(args.skills) if args.skills is not None else None,
            capacity=args.capacity,
            display_name=args.display_name,
            password=password,
        )
        print(_row(updated))
        if password is not None or args.role:
            await _end_sessions(settings, agent.id)
        return 0

    return await _with_agents(settings, change)


async def agents_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(agents: AgentService) -> int:
        agent = await agents.get_by_username(args.username)
        await agents.remove(agent.id)
        await _end_sessions(settings, agent.id)
        print(f"removed {agent.username}")
        return 0

    return await _with_agents(settings, remove)


async def _with_visitor_data(settings: Settings, action: Callable[[VisitorData], Awaitable[int]]) -> int:
    store = await open_store(settings.database_url)
    try:
        return await action(VisitorData(store))
    finally:
        await store.close()


async def visitor_export(args: argparse.Namespace, settings: Settings) -> int:
    async def export(data: VisitorData) -> int:
        print(json.dumps(await data.export(args.visitor_id), ensure_ascii=False, indent=2))
        return 0

    return await _with_visitor_data(settings, export)


async def visitor_erase(args: argparse.Namespace, settings: Settings) -> int:
    async def erase(data: VisitorData) -> int:
        print(f"erased {await data.erase(args.visitor_id)} conversation(s) of {args.visitor_id}")
        return 0

    return await _with_visitor_data(settings, erase)


async def _end_sessions(settings: Settings, agent_id: str) -> None:
    """Tell running instances to close the agent's sockets now. Through Redis when there is
    one; otherwise the instance finds out at the socket's next ping (every 15 s)."""
    bus = make_bus(settings)
    await bus.start()
    try:
        await bus.publish(agent_channel(agent_id), SessionEnded(agent_id, None))
    finally:
        await bus.close()


def _describe(switch: BotSwitch) -> str:
    state = "on" if switch.enabled else "off (every visitor message goes to people)"
    off = ", ".join(sorted(switch.disabled_intents)) or "none"
    return f"bot: {state}\nintents handed off instead of answered: {off}"


async def _with_leash(settings: Settings, action: Callable[[BotLeash], Awaitable[int]]) -> int:
    if settings.backend != "redis":
        # In memory, the switch lives in the running instance: nothing here can reach it.
        raise DomainError("with the memory backend the bot's switch lives in the running instance: "
                          "use the console or PUT /api/admin/bot")
    store, bus = make_switch_store(settings), make_bus(settings)
    await store.start()
    try:
        await bus.start()
        try:
            return await action(BotLeash(store, bus))
        finally:
            await bus.close()
    finally:
        await store.close()


async def bot_switch(args: argparse.Namespace, settings: Settings) -> int:
    names = intents(args.intent or [])

    async def switch(leash: BotLeash) -> int:
        if args.bot_command == "status":
            print(_describe(await leash.stored()))
            return 0
        on = args.bot_command == "on"
        if names:
            changed = await leash.change(enable=names) if on else await leash.change(disable=names)
        else:
            changed = await leash.change(enabled=on)
        print(_describe(changed))
        return 0

    return await _with_leash(settings, switch)


def _models_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.models_dir).resolve() if getattr(args, "models_dir", None) else settings.models_dir


def _promoter(args: argparse.Namespace, settings: Settings) -> ModelPromoter:
    token = settings.rasa_token or read_token_file()
    return ModelPromoter(ModelShelf(_models_dir(args, settings)), RasaModels(settings.rasa_url, token))


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from handoff.bottrain import Inputs, train  # rich and the training only for this command

    inputs = Inputs.default(
        config=Path(args.config).resolve() if args.config else None,
        data=Path(args.data).resolve() if args.data else None,
        domain=Path(args.domain).resolve() if args.domain else None,
    )
    models_dir = _models_dir(args, settings)
    result = train(inputs, models_dir, force=args.force)
    if not result.trained:
        print(f"bot model is up to date: {result.model.name} (nothing to train)")
        return 0
    print(f"trained {result.model} in {result.seconds:.0f} s; {models_dir / CURRENT_LINK} points to it")
    print(f"load it into the running bot: relais bot promote {result.model.name}")
    return 0


async def bot_train(args: argparse.Namespace, settings: Settings) -> int:
    return await asyncio.to_thread(_train, args, settings)


async def bot_models(args: argparse.Namespace, settings: Settings) -> int:
    promoter = _promoter(args, settings)
    described = await promoter.describe()
    running = described["running"]
    print(f"models in {promoter.shelf.directory}:")
    for model in described["models"]:
        marks = [mark for mark, on in (("current", model["name"] == described["current"]),
                                        ("running", model["name"] == running),
                                        ("start-up link", model["name"] == described["linked"])) if on]
        print(f"  {model['name']:<28} {model['modified']}  {model['size'] / 1e6:6.1f} MB"
              + (f"  <- {', '.join(marks)}" if marks else ""))
    if not described["models"]:
        print("  (none: relais bot train)")
    print(f"Rasa answers with: {running or 'unknown (not reachable)'}")
    if described["history"]:
        print("history:")
        for change in described["history"]:
            print(f"  {change['at']}  {change['action']:<8} {change['model']}  "
                  f"(was {change['previous'] or '?'}, by {change['by']})")
    return 0


async def bot_promote(args: argparse.Namespace, settings: Settings) -> int:
    change = await _promoter(args, settings).promote(args.model, by=_who())
    print(f"promoted {change.model} (was {change.previous or 'unknown'}): the bot answers with it now")
    return 0


async def bot_rollback(args: argparse.Namespace, settings: Settings) -> int:
    change = await _promoter(args, settings).rollback(by=_who())
    print(f"rolled back to {change.model} (was {change.previous})")
    return 0


async def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    revision, head = await upgrade(settings.database_url)
    print(f"database at revision {revision} (latest: {head})")
    return 0 if revision == head else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relais", description="Relais: chat widget, Rasa bot and handoff service.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve the handoff service")
    run.add_argument("--with-bot", action="store_true", help="also start the Rasa server and the action server")

    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate to the latest schema").set_defaults(handler=db_upgrade)

    agents = commands.add_parser("agents", help="manage agents").add_subparsers(dest="agents_command", required=True)
    roles = [role.value for role in AgentRole]
    add = agents.add_parser("add", help="add an agent (password read from stdin)")
    add.add_argument("username")
    add.add_argument("--role", choices=roles, required=True)
    add.add_argument("--languages", required=True, help="comma-separated, e.g. fr,en")
    add.add_argument("--skills", help="comma-separated product categories, e.g. awning,solar")
    add.add_argument("--capacity", type=int, help="simultaneous chats (default from endpoints.yml)")
    add.add_argument("--display-name")
    add.set_defaults(handler=agents_add)

    agents.add_parser("list", help="list agents").set_defaults(handler=agents_list)

    change = agents.add_parser("set", help="change an agent")
    change.add_argument("username")
    change.add_argument("--role", choices=roles)
    change.add_argument("--languages")
    change.add_argument("--skills", help="comma-separated; an empty string clears them")
    change.add_argument("--capacity", type=int)
    change.add_argument("--display-name")
    change.add_argument("--password", action="store_true", help="read a new password from stdin")
    change.set_defaults(handler=agents_set)

    remove = agents.add_parser("remove", help="remove an agent")
    remove.add_argument("username")
    remove.set_defaults(handler=agents_remove)

    bot = commands.add_parser("bot", help="the bot's switches and models (docs/bot.md)")
    bot_commands = bot.add_subparsers(dest="bot_command", required=True)
    for name, text in (("off", "switch the bot off: every visitor message goes to people"),
                       ("on", "switch the bot back on")):
        command = bot_commands.add_parser(name, help=text)
        command.add_argument("--intent", action="append", metavar="NAME",
                             help="only this intent: handed off instead of answered (off), or answered again (on)")
        command.set_defaults(handler=bot_switch)
    bot_commands.add_parser("status", help="show the switches").set_defaults(handler=bot_switch, intent=None)
    train = bot_commands.add_parser("train", help="train a model named by the hash of its data and config")
    train.add_argument("--config", help="the Rasa config (default: config.yml)")
    train.add_argument("--data", help="the training data directory (default: bot/data)")
    train.add_argument("--domain", help="the domain (default: bot/domain.yml)")
    train.add_argument("--force", action="store_true", help="train even if a model of these inputs exists")
    train.set_defaults(handler=bot_train)
    bot_commands.add_parser("models", help="list the models and the current one").set_defaults(handler=bot_models)
    promote = bot_commands.add_parser("promote", help="load a model into the running Rasa server")
    promote.add_argument("model", help="relais-<sha12>.tar.gz, its path, or the start of its hash")
    promote.set_defaults(handler=bot_promote)
    bot_commands.add_parser("rollback", help="go back to the previous model").set_defaults(handler=bot_rollback)
    for name in ("train", "models", "promote", "rollback"):
        bot_commands.choices[name].add_argument(
            "--models-dir", help="where the models are (default: relais.bot.models_dir, bot/models)")

    visitors = commands.add_parser("visitor", help="a visitor's personal data (docs/privacy.md)")
    visitor_commands = visitors.add_subparsers(dest="visitor_command", required=True)
    export = visitor_commands.add_parser("export", help="print everything stored about a visitor, as JSON")
    export.add_argument("visitor_id")
    export.set_defaults(handler=visitor_export)
    erase = visitor_commands.add_parser("erase", help="delete everything stored about a visitor")
    erase.add_argument("visitor_id")
    erase.set_defaults(handler=visitor_erase)

    review_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "run":
            from handoff.server import run  # the server pulls in aiohttp's app; only `run` needs it

            run(settings, with_bot=args.with_bot)
            return 0
        handler: Command = args.handler
        return asyncio.run(handler(args, settings))
    except ConfigError as exc:
        print(f"relais: configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"relais: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
