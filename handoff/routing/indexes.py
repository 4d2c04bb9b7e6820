"""The indexes derived from the routing entities, and how a change moves them.

Every index is a sorted set of one brand (member, score), kept by the backend:

- `ix:<pool>:<language>:<skill>` — available agents (online, below capacity), by
  `policy.rank` (all scores 0, members ordered as strings);
- `q:…` — unoffered waiting tickets per queue (`policy.queue_keys`), by queue order;
- `pos:<pool>` — a pool's unoffered tickets by queue order: a visitor's place in line;
- `waiting` — every waiting ticket, offered or not, by queue order;
- `timers` — what is due when: `offer:`, `overflow:`, `maxwait:` per ticket,
  `heartbeat:`, `grace:` per agent, by due time;
- `agents` — every registered agent of the brand; `skills` — every skill ever asked
  (added by the change that queues a ticket, never removed: generalist advisors
  serve the queues of all of them).

`index_changes(before, after)` is the one place that says which entity state is
listed where: both backends apply its operations with the entity writes of the
same change, atomically, so an index never disagrees with its entities.
"""

from __future__ import annotations

from dataclasses import dataclass

from handoff.config import RoutingSettings
from handoff.domain import Presence
from handoff.routing import policy
from handoff.routing.state import AgentState, Ticket

WAITING = "waiting"
TIMERS = "timers"
AGENTS = "agents"
SKILLS = "skills"

OFFER_TIMER = "offer"
OVERFLOW_TIMER = "overflow"
MAX_WAIT_TIMER = "maxwait"
HEARTBEAT_TIMER = "heartbeat"
GRACE_TIMER = "grace"
# When several timers are due at once, they fire in this order (agents lost first,
# so their offers are not expired as passes; then offers, grace, overflow, waits).
TIMER_ORDER = {HEARTBEAT_TIMER: 0, OFFER_TIMER: 1, GRACE_TIMER: 2, OVERFLOW_TIMER: 3, MAX_WAIT_TIMER: 4}


@dataclass(frozen=True, slots=True)
class IndexOp:
    """Add `member` with `score` to the sorted set `key` (score None: remove it)."""

    key: str
    member: str
    score: float | None


Listing = dict[tuple[str, str], float]  # (key, member) -> score


def timer_member(kind: str, ident: str) -> str:
    return f"{kind}:{ident}"


def parse_timer(member: str) -> tuple[str, str]:
    kind, _, ident = member.partition(":")
    return kind, ident


def agent_listing(agent: AgentState | None, settings: RoutingSettings) -> Listing:
    if agent is None:
        return {}
    listing: Listing = {(AGENTS, agent.agent_id): 0.0}
    if policy.available(agent):
        member = policy.rank(agent)
        for key in policy.agent_index_keys(agent):
            listing[(key, member)] = 0.0
    if agent.presence is not Presence.OFFLINE and agent.last_seen is not None:
        listing[(TIMERS, timer_member(HEARTBEAT_TIMER, agent.agent_id))] = (
            agent.last_seen + settings.heartbeat_timeout_seconds
        )
    if agent.presence is Presence.OFFLINE and agent.disconnected_at is not None and agent.active:
        listing[(TIMERS, timer_member(GRACE_TIMER, agent.agent_id))] = (
            agent.disconnected_at + settings.grace_period_seconds
        )
    return listing


def ticket_listing(ticket: Ticket | None, settings: RoutingSettings) -> Listing:
    if ticket is None:
        return {}
    cid = ticket.conversation_id
    listing: Listing = {(WAITING, cid): ticket.order}
    if ticket.offered_to is None:
        for key in policy.queue_keys(ticket):
            listing[(key, cid)] = ticket.order
        listing[(policy.position_key(ticket.pool), cid)] = ticket.order
        overflow_at = policy.overflow_at(ticket, settings)
        if overflow_at is not None:
            listing[(TIMERS, timer_member(OVERFLOW_TIMER, cid))] = overflow_at
    elif ticket.offer_expires_at is not None:
        listing[(TIMERS, timer_member(OFFER_TIMER, cid))] = ticket.offer_expires_at
    if not ticket.waited_too_long:
        listing[(TIMERS, timer_member(MAX_WAIT_TIMER, cid))] = ticket.enqueued_at + settings.max_wait_seconds
    return listing


def diff(before: Listing, after: Listing) -> list[IndexOp]:
    """The operations turning the `before` listing into the `after` one."""
    ops = [IndexOp(key, member, None) for (key, member) in before if (key, member) not in after]
    ops.extend(
        IndexOp(key, member, score)
        for (key, member), score in after.items()
        if before.get((key, member)) != score
    )
    return ops
