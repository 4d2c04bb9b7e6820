"""Hypothesis strategies shared by the routing property tests: agents, modes, arrivals."""

from __future__ import annotations

from hypothesis import strategies as st

from handoff.domain import Pool, Presence

LANGUAGES = ("en", "fr")
SKILLS = ("solar", "awning")

profiles_strategy = st.lists(
    st.tuples(
        st.sampled_from(list(Pool)),
        st.sets(st.sampled_from(LANGUAGES), min_size=1),
        st.sets(st.sampled_from(SKILLS)),
        st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=4,
)
modes_strategy = st.sampled_from(["auto", "auto", "manual"])
presence_strategy = st.sampled_from([Presence.ONLINE, Presence.ONLINE, Presence.AWAY, Presence.OFFLINE])
arrival_strategy = st.tuples(
    st.sampled_from(list(Pool)),
    st.sampled_from(LANGUAGES),
    st.sampled_from([None, *SKILLS]),
    st.none() | st.integers(0, 3),  # the returning visitor's agent
    st.sampled_from([None, None, None, None, 0, 1]),  # a transfer to a named agent
    st.booleans(),  # at the head
)
