"""Moderation (the Tay lesson): abusive words masked between visitors and agents.

Word lists and patterns are data (`en.yml`, `fr.yml` here, or files of the same
shape named in `moderation.lists`); every configured list applies to every text.
Like personal data (`services/privacy.py`), masking happens on delivery, in both
directions: what a visitor wrote, as agents receive it (socket events, HTTP
answers, offers and transcripts), and what an agent wrote, as the visitor
receives it. The store keeps the original text (evidence, exports). The bot is
given the masked text, so nothing it learns or echoes comes from the abuse; it
only ever answers from its vetted responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from handoff.config import ConfigError, ModerationSettings
from handoff.domain import SenderKind
from handoff.services.privacy import HIDDEN, mask_texts

LISTS_DIR = Path(__file__).resolve().parent
_FROM_VISITORS = frozenset({SenderKind.VISITOR.value})
_FROM_AGENTS = frozenset({SenderKind.AMBASSADOR.value, SenderKind.ADVISOR.value})
# Letters that also match their accented forms in list words ("encule" is "enculé").
_VARIANTS = {
    "a": "aàâäáã", "c": "cç", "e": "eéèêë", "i": "iîïíì", "o": "oôöóò", "u": "uùûüú", "y": "yÿ", "n": "nñ",
}


def _word_pattern(word: str) -> str:
    """A list word as a regular expression: whole word, accents loose, `*` at the end for any ending."""
    open_end = word.endswith("*")
    core = word.rstrip("*").strip().lower()
    if not core:
        raise ValueError("an empty word")
    letters = []
    for char in core:
        plain = next((base for base, forms in _VARIANTS.items() if char in forms), None)
        letters.append(f"[{_VARIANTS[plain]}]" if plain else re.escape(char))
    return r"(?<!\w)" + "".join(letters) + (r"\w*" if open_end else r"(?!\w)")


def _list_path(name: str) -> Path:
    return LISTS_DIR / f"{name}.yml" if re.fullmatch(r"[a-z]{2,3}", name) else Path(name)


def load_patterns(names: Iterable[str]) -> list[str]:
    """Every word and pattern of the named lists, as regular expressions; `ConfigError` names a bad one."""
    found: list[str] = []
    for name in names:
        path = _list_path(name)
        setting = f"relais.moderation.lists ({name})"
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{setting}: cannot read {path}: {exc}") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{setting}: {path} must hold words: and patterns: lists")
        for key in ("words", "patterns"):
            items = document.get(key) or []
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise ConfigError(f"{setting}: {key} in {path} must be a list of strings")
            for item in items:
                try:
                    pattern = _word_pattern(item) if key == "words" else item
                    re.compile(pattern, re.IGNORECASE)
                except (ValueError, re.error) as exc:
                    raise ConfigError(f"{setting}: {key} entry {item!r} in {path}: {exc}") from None
                found.append(pattern)
    return found


class Moderator:
    """Masks the configured abusive words; a disabled one changes nothing."""

    def __init__(self, patterns: Iterable[str], enabled: bool = True) -> None:
        compiled = [f"(?:{pattern})" for pattern in patterns]
        self.enabled = enabled and bool(compiled)
        self._abuse = re.compile("|".join(compiled), re.IGNORECASE) if self.enabled else None

    @classmethod
    def from_settings(cls, settings: ModerationSettings) -> Moderator:
        return cls(load_patterns(settings.lists) if settings.enabled else (), settings.enabled)

    def mask(self, text: str) -> str:
        """`text` with each abusive word replaced by its first letter and `•••`."""
        if self._abuse is None:
            return text
        return self._abuse.sub(lambda match: match.group()[0] + HIDDEN, text)

    def for_agents(self, payload: Any) -> Any:
        """A JSON-shaped payload as agents receive it: visitors' texts masked."""
        if self._abuse is None:
            return payload
        return mask_texts(payload, self.mask, senders=_FROM_VISITORS, fields=("rating_comment",))

    def for_visitors(self, payload: Any) -> Any:
        """A JSON-shaped payload as a visitor receives it: agents' texts masked."""
        if self._abuse is None:
            return payload
        return mask_texts(payload, self.mask, senders=_FROM_AGENTS, fields=())
