"""Who sees visitors' personal data: ambassadors never do, advisors and admins do.

Ambassadors are customers who volunteer, not staff: emails, phone numbers, card
numbers (Luhn-checked) and IBANs (mod-97-checked) that visitors type are masked
in everything sent to them — offers, previews, queue entries, messages,
transcripts, socket events. The store keeps the original text; masking happens
on the way out (`redact_for`), so one rule covers every payload an agent gets:
any object with `"sender_kind": "visitor"` and a `text` has that text masked (and so
does an internal note, which may quote the visitor),
as do the visitor-typed fields of a conversation (`rating_comment`, `page_url`).
The walk over a payload (`mask_texts`) is shared with moderation (`handoff/moderation`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from handoff.domain import Agent, AgentRole

HIDDEN = "•••"
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# 9 digits at least: dates (8) stay readable; separators are spaces, dots and dashes.
_PHONE = re.compile(r"(?<![\w+])(?<!\d[ .\-])(?:\+|00)?\(?\d(?:[ .\-]?\(?\d\)?){8,14}(?![ .\-]?\d)(?!\w)")
VISITOR_TEXT_FIELDS = ("rating_comment", "page_url")


def sees_personal_data(agent: Agent) -> bool:
    return agent.role is not AgentRole.AMBASSADOR


def mask_personal_data(text: str) -> str:
    """`text` with IBANs, card numbers, emails and phone numbers masked; a few
    trailing characters stay so the visitor and the agent can still refer to them."""
    text = _IBAN.sub(_mask_iban, text)
    text = _CARD.sub(_if(_luhn, lambda s: HIDDEN + _digits(s)[-4:]), text)
    text = _EMAIL.sub(HIDDEN + "@" + HIDDEN, text)
    return _PHONE.sub(_if(lambda s: 9 <= len(_digits(s)) <= 15, lambda s: HIDDEN + _digits(s)[-2:]), text)


def contains_personal_data(text: str) -> bool:
    """Whether `text` holds anything `mask_personal_data` would mask (the review's export
    drops such examples: docs/maintainers.md)."""
    return mask_personal_data(text) != text


def redact_for(agent: Agent, payload: Any) -> Any:
    """`payload` (JSON-shaped) as this agent may see it."""
    if sees_personal_data(agent):
        return payload
    return mask_texts(
        payload, mask_personal_data, senders=frozenset({"visitor"}), fields=VISITOR_TEXT_FIELDS, notes=True
    )


def mask_texts(
    value: Any, mask: Callable[[str], str], *, senders: frozenset[str], fields: tuple[str, ...], notes: bool = False
) -> Any:
    """A copy of JSON-shaped `value` where `mask` is applied to the `text` of every object whose
    `sender_kind` is one of `senders`, and to the string `fields` of every object."""
    if isinstance(value, list):
        return [mask_texts(item, mask, senders=senders, fields=fields, notes=notes) for item in value]
    if not isinstance(value, dict):
        return value
    masked = {key: mask_texts(item, mask, senders=senders, fields=fields, notes=notes) for key, item in value.items()}
    # An internal note (it has an `author_name`) may quote the visitor: masked when `notes`.
    from_sender = masked.get("sender_kind") in senders or (notes and "author_name" in masked)
    if from_sender and isinstance(masked.get("text"), str):
        masked["text"] = mask(masked["text"])
    for field in fields:
        if isinstance(masked.get(field), str):
            masked[field] = mask(masked[field])
    return masked


def _if(check: Callable[[str], bool], mask: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        found = match.group()
        return mask(found) if check(found) else found

    return replace


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _luhn(candidate: str) -> bool:
    digits = [int(d) for d in _digits(candidate)]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _mask_iban(match: re.Match[str]) -> str:
    """The longest valid IBAN at the start of the match (it may run into the next word)."""
    found = match.group()
    for end in range(len(found), 14, -1):
        if found[end - 1] != " " and _valid_iban(found[:end]):
            return found[:4] + HIDDEN + found[end:]
    return found


def _valid_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
