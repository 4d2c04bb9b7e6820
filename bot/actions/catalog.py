"""The demo shop's product categories: the skills the handoff router matches.

NLU maps most ways of naming a category to its canonical value with entity
synonyms (bot/data/nlu/product_category.yml). This module is the safety net used
by the actions: whatever span NLU extracted ("stores bannes", "panneau solaire
souple", "Webasto"), `canonical_category` turns it into one of `CATEGORIES` or
None, so the handoff payload only ever carries a skill the router knows.
"""

from __future__ import annotations

import re

from bot.actions.language import strip_accents

CATEGORIES = ("awning", "solar", "bike_rack", "heating", "fridge", "sanitation")

# Stems, accent-free and lowercase, that name a category in French or English.
# Matched at the start of a word ("frigo" matches "frigos"), longest first.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "awning": (
        "awning", "store banne", "stores banne", "auvent",
        "banne", "canopy", "sun canopy", "side wall", "fiamma f", "thule omnistor",
    ),
    "solar": (
        "solar", "solaire", "panneau", "panel", "photovolta", "batterie", "battery",
        "batteries", "lithium", "lifepo", "agm", "regulateur", "mppt", "controller",
        "convertisseur", "inverter", "onduleur", "booster",
    ),
    "bike_rack": (
        "bike rack", "bike carrier", "bike", "bikes", "velo", "porte-velo", "porte velo",
        "porte-velos", "porte velos", "cycle carrier", "ebike", "e-bike",
        "carrier",
    ),
    "heating": (
        "heating", "heater", "chauffage", "chauffer", "webasto", "truma", "eberspacher",
        "autoterm", "diesel heater", "chaufferette", "radiateur", "combi",
    ),
    "fridge": (
        "fridge", "frigo", "refrigerateur", "refrigerator", "glaciere", "cool box",
        "coolbox", "cooler", "compressor", "compresseur", "freezer", "congelateur",
    ),
    "sanitation": (
        "sanitation", "sanitaire", "toilet", "toilette", "wc", "loo", "cassette",
        "chemical", "chimique", "porta potti", "thetford", "grey water", "eaux grises",
        "black water", "eaux noires", "shower", "douche", "dump", "vidange",
    ),
}

# Whole values that name a category only when NLU tagged them as one ("store" is
# "awning" in French, but "shop" in English: never matched inside free text).
EXACT: dict[str, str] = {"store": "awning", "stores": "awning", "vae": "bike_rack"}

_PATTERNS: list[tuple[re.Pattern[str], str]] = sorted(
    (
        (re.compile(r"(?<![a-z])" + re.escape(stem).replace(r"\ ", r"[\s-]+")), category)
        for category, stems in KEYWORDS.items()
        for stem in stems
    ),
    key=lambda item: -len(item[0].pattern),
)


def canonical_category(value: object) -> str | None:
    """One of CATEGORIES for an entity value or a span of text; None if unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = strip_accents(value)
    if text in CATEGORIES:
        return text
    if text.strip() in EXACT:
        return EXACT[text.strip()]
    for pattern, category in _PATTERNS:
        if pattern.search(text):
            return category
    return None
