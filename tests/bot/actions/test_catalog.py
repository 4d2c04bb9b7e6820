"""Product categories: whatever NLU extracts becomes a skill the router knows, or None."""

from __future__ import annotations

import pytest

from bot.actions.catalog import CATEGORIES, canonical_category


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("awning", "awning"), ("Stores bannes", "awning"), ("store", "awning"), ("auvent gonflable", "awning"),
        ("panneau solaire souple", "solar"), ("batterie lithium", "solar"), ("MPPT controller", "solar"),
        ("porte-vélos", "bike_rack"), ("porte velo", "bike_rack"), ("bike carriers", "bike_rack"),
        ("Webasto", "heating"), ("chauffage diesel", "heating"), ("heaters", "heating"),
        ("frigo à compression", "fridge"), ("refrigerateur", "fridge"), ("cool box", "fridge"),
        ("wc chimique", "sanitation"), ("cassette", "sanitation"), ("toilettes sèches", "sanitation"),
    ],
)
def test_names_in_both_languages_map_to_a_category(value: str, expected: str) -> None:
    assert canonical_category(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "pizza", "online store", "<script>", 42, "voiture"])
def test_unknown_values_give_no_category(value: object) -> None:
    assert canonical_category(value) is None


def test_every_category_maps_to_itself() -> None:
    assert [canonical_category(c) for c in CATEGORIES] == list(CATEGORIES)
