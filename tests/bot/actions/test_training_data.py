"""The bot's data: enough examples per intent and language, no example twice,
coherent product categories, a French and an English variation of every response.

(`rasa data validate --fail-on-warnings`, which fails on unused or conflicting
data, is the first step of `make bot-test`.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.actions.catalog import CATEGORIES, canonical_category

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text())
NLU = {lang: yaml.safe_load((ROOT / "bot" / "data" / "nlu" / f"{lang}.yml").read_text()) for lang in ("fr", "en")}
CATEGORY_DATA = yaml.safe_load((ROOT / "bot" / "data" / "nlu" / "product_category.yml").read_text())
ANNOTATION = re.compile(r"\[([^\]]+)\]\(product_category\)")
MIN_EXAMPLES = 25


def examples(block: dict[str, Any]) -> list[str]:
    return [line.strip()[2:] for line in block["examples"].splitlines() if line.strip().startswith("- ")]


def synonyms() -> dict[str, str]:
    return {
        example.lower(): block["synonym"]
        for block in CATEGORY_DATA["nlu"] if "synonym" in block
        for example in examples(block)
    }


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_intent_has_enough_examples_in_each_language(language: str) -> None:
    counts = {block["intent"]: len(examples(block)) for block in NLU[language]["nlu"]}
    assert set(counts) == set(DOMAIN["intents"])
    too_few = {intent: n for intent, n in counts.items() if n < MIN_EXAMPLES}
    assert not too_few, f"fewer than {MIN_EXAMPLES} {language} examples: {too_few}"


def test_no_example_is_written_twice() -> None:
    seen: dict[str, str] = {}
    for language in ("fr", "en"):
        for block in NLU[language]["nlu"]:
            for example in examples(block):
                plain = ANNOTATION.sub(r"\1", example).lower()
                assert plain not in seen, f"{example!r} in {block['intent']} and {seen[plain]}"
                seen[plain] = block["intent"]


def test_every_annotated_category_maps_to_a_known_value() -> None:
    known = synonyms()
    assert set(known.values()) == set(CATEGORIES)
    for language in ("fr", "en"):
        for block in NLU[language]["nlu"]:
            for example in examples(block):
                for span in ANNOTATION.findall(example):
                    value = known.get(span.lower(), span.lower())
                    assert value in CATEGORIES, f"{span!r} ({language}) has no synonym"
                    assert canonical_category(span) == value, span


def test_product_advice_is_richly_annotated() -> None:
    for language in ("fr", "en"):
        block = next(b for b in NLU[language]["nlu"] if b.get("intent") == "ask_product_advice")
        annotated = [e for e in examples(block) if ANNOTATION.search(e)]
        mentioned = {canonical_category(s) for e in annotated for s in ANNOTATION.findall(e)}
        assert len(annotated) >= 40 and mentioned == set(CATEGORIES), language


def test_lookup_table_names_only_known_categories() -> None:
    lookup = next(b for b in CATEGORY_DATA["nlu"] if b.get("lookup") == "product_category")
    assert all(canonical_category(name) for name in examples(lookup))


def test_every_response_has_a_french_variation_and_an_english_default() -> None:
    for name, variations in DOMAIN["responses"].items():
        french = [v for v in variations if v.get("condition") == [{"type": "slot", "name": "language", "value": "fr"}]]
        default = [v for v in variations if not v.get("condition")]
        assert len(french) == 1 and len(default) == 1 and len(variations) == 2, name
        for variation in variations:
            # no {placeholders}: the bot never repeats what the visitor typed
            assert "{" not in variation["text"], name
            assert len(variation.get("buttons", [])) == len(french[0].get("buttons", [])), name
