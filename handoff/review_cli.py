"""`relais review`: the maintainers' review in the terminal (docs/maintainers.md).

    relais review [--language fr] [--intent NAME] [--since DATE] [--until DATE] [--limit N]
                                        list what the bot did not handle well, grouped
    relais review --stats [--weeks N] [--language fr]
                                        contained vs escalated per intent and week
    relais review label [filters]       label the groups one by one (keyboard-driven prompt)
    relais review export                write the labels as Rasa NLU data, validated by Rasa

The prompt is questionary's (prompt_toolkit): arrow keys or the shortcut letters,
Enter to choose. Each label is saved as soon as it is given; `q` (or Ctrl-C) stops.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import questionary
from questionary import Choice

from handoff.config import Settings
from handoff.domain import DomainError
from handoff.services.review import Filters, Group, ReviewService, domain_intents
from handoff.services.review_export import ReviewExport, describe
from handoff.store import Store, open_store

TEXT_WIDTH = 60


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(language=args.language, intent=args.intent, since=args.since, until=args.until)


async def _with_review(settings: Settings, action: Callable[[Store, ReviewService], Awaitable[int]]) -> int:
    store = await open_store(settings.database_url)
    try:
        return await action(store, ReviewService(store, settings.review))
    finally:
        await store.close()


def _short(text: str, width: int = TEXT_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _reasons(group: dict[str, Any]) -> str:
    return ",".join(group["reasons"])


def _link(settings: Settings, conversation_id: str) -> str:
    return f"{settings.public_url}/console/review?conversation={conversation_id}"


async def review_list(args: argparse.Namespace, settings: Settings) -> int:
    if args.stats:
        return await review_stats(args, settings)

    async def show(_: Store, review: ReviewService) -> int:
        groups = await review.groups(_filters(args))
        if not groups:
            print("nothing to review in this period")
            return 0
        print(f"{'COUNT':>5} {'LANG':<4} {'BOT READ':<20} {'CONF':>4}  {'WHY':<28} TEXT")
        for group in groups[: args.limit]:
            row = group.to_json()
            confidence = f"{row['confidence']:.2f}" if row["confidence"] is not None else "-"
            print(f"{row['count']:>5} {row['language']:<4} {row['intent'] or '-':<20} {confidence:>4}  "
                  f"{_reasons(row):<28} {_short(row['text'])}")
            print(f"{'':>11}{_link(settings, row['conversation_id'])}")
        if len(groups) > args.limit:
            print(f"… and {len(groups) - args.limit} more (--limit)")
        return 0

    return await _with_review(settings, show)


async def review_stats(args: argparse.Namespace, settings: Settings) -> int:
    async def show(_: Store, review: ReviewService) -> int:
        rows = await review.stats(weeks=args.weeks, language=args.language)
        if not rows:
            print("no bot turns in this period")
            return 0
        print(f"{'WEEK':<10} {'INTENT':<20} {'MESSAGES':>8} {'CONTAINED':>9} {'ESCALATED':>9} {'CONTAINMENT':>11}")
        for row in rows:
            print(f"{row['week']:<10} {row['intent']:<20} {row['messages']:>8} {row['contained']:>9} "
                  f"{row['escalated']:>9} {row['containment']:>10.0%}")
        return 0

    return await _with_review(settings, show)


def _spans(text: str, answer: str) -> list[dict[str, int]] | None:
    """The spans of the comma-separated words in `text` (first occurrences); None if one is missing."""
    spans: list[dict[str, int]] = []
    lowered = text.casefold()
    for word in (w.strip() for w in answer.split(",")):
        if not word:
            continue
        at = lowered.find(word.casefold())
        if at < 0 or any(at < s["end"] and s["start"] < at + len(word) for s in spans):
            return None
        spans.append({"start": at, "end": at + len(word)})
    return spans


async def _label_one(review: ReviewService, group: Group, intents: list[str]) -> str:
    """Ask about one group; "labelled", "skipped" or "quit"."""
    row = group.to_json()
    read = row["intent"] or "-"
    choices = []
    if row["intent"] in intents:
        choices.append(Choice(f"confirm: {read}", value="confirm", shortcut_key="c"))
    choices += [
        Choice("another intent…", value="correct", shortcut_key="i"),
        Choice("candidate for a new intent…", value="candidate", shortcut_key="n"),
        Choice("skip", value="skip", shortcut_key="s"),
        Choice("quit", value="quit", shortcut_key="q"),
    ]
    choice = await questionary.select("What is it?", choices=choices, use_shortcuts=True).ask_async()
    if choice in (None, "quit"):
        return "quit"
    if choice == "skip":
        return "skipped"
    if choice == "candidate":
        name = await questionary.text(
            "Name of the new intent (e.g. ask_gift_cards):",
            validate=lambda v: bool(v.strip()) and v.strip().replace("_", "").isalnum() and v.strip() == v.strip().lower()
            or "lower-case letters, digits and _",
        ).ask_async()
        if name is None:
            return "quit"
        await review.label(group.head.conversation_id, group.head.seq, action="candidate", candidate=name.strip(),
                           members=row["members"], labelled_by=None)
        return "labelled"
    intent = row["intent"]
    if choice == "correct":
        intent = await questionary.autocomplete(
            "Intent:", choices=intents, validate=lambda v: v in intents or "one of the domain's intents",
        ).ask_async()
        if intent is None:
            return "quit"
    text = group.head.text
    words = await questionary.text(
        "product_category words in it (comma-separated, Enter for none):",
        validate=lambda v: _spans(text, v) is not None or "each must appear in the message",
    ).ask_async()
    if words is None:
        return "quit"
    await review.label(group.head.conversation_id, group.head.seq, action="intent", intent=intent,
                       entities=_spans(text, words), members=row["members"], labelled_by=None)
    return "labelled"


async def review_label(args: argparse.Namespace, settings: Settings) -> int:
    async def session(_: Store, review: ReviewService) -> int:
        intents = [name for name in domain_intents(settings.review.bot_dir) if name != "nlu_fallback"]
        groups = (await review.groups(_filters(args)))[: args.limit]
        if not groups:
            print("nothing to review in this period")
            return 0
        labelled = 0
        for index, group in enumerate(groups, 1):
            row = group.to_json()
            confidence = f" {row['confidence']:.2f}" if row["confidence"] is not None else ""
            print(f"\n[{index}/{len(groups)}] ×{row['count']} {row['language']}  bot read: {row['intent'] or '-'}"
                  f"{confidence}  ({_reasons(row)})")
            print(f"  «{row['text']}»")
            for example in row["examples"]:
                print(f"    also: «{_short(example)}»")
            print(f"  {_link(settings, row['conversation_id'])}")
            try:
                outcome = await _label_one(review, group, intents)
            except KeyboardInterrupt:
                outcome = "quit"
            if outcome == "quit":
                break
            labelled += outcome == "labelled"
        print(f"\nlabelled {labelled} group(s); `relais review export` writes them as training data")
        return 0

    return await _with_review(settings, session)


async def review_export(args: argparse.Namespace, settings: Settings) -> int:
    async def export(store: Store, _: ReviewService) -> int:
        try:
            report = await ReviewExport(store, settings.review).run()
        except DomainError as exc:
            if "output" in exc.details:
                print(exc.details["output"])
            raise
        for line in describe(report):
            print(line)
        print("rasa data validate --fail-on-warnings: passed")
        return 0

    return await _with_review(settings, export)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--language", help="fr, en …")
    parser.add_argument("--intent", help="the intent the bot read")
    parser.add_argument("--since", type=_moment, help="ISO date or time (default: 30 days ago)")
    parser.add_argument("--until", type=_moment, help="ISO date or time (default: now)")
    parser.add_argument("--limit", type=int, default=50, help="at most this many groups (default 50)")


def add_commands(commands: Any) -> None:
    """`relais review …` on the CLI's sub-command parser."""
    review = commands.add_parser("review", help="what the bot did not handle well: list, label, export, --stats")
    _add_filters(review)
    review.add_argument("--stats", action="store_true", help="contained vs escalated per intent and week")
    review.add_argument("--weeks", type=int, default=8, help="with --stats: this many weeks (default 8)")
    review.set_defaults(handler=review_list)
    sub = review.add_subparsers(dest="review_command")
    label = sub.add_parser("label", help="label the groups one by one (interactive)")
    _add_filters(label)
    label.set_defaults(handler=review_label)
    sub.add_parser("export", help="write the labels as Rasa NLU data (validated by Rasa)").set_defaults(
        handler=review_export)
