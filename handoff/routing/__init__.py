"""Routing: who among the ambassadors and advisors gets which waiting conversation.

- `policy.py` — the rules, as pure functions (eligibility, choice, queue position);
- `state.py` — the live state (agents, queue, held chats) and its JSON form;
- `backend.py` — the atomic read-modify-write primitive, in memory (`memory.py`)
  or on Redis (`redis.py`);
- `engine.py` — the operations (enqueue, accept, claim, presence, sweep …);
- `outcomes.py` — what an operation changed, for `services/handoffs.py` to apply.

See docs/routing.md.
"""

from handoff.routing.backend import RoutingBackend
from handoff.routing.engine import RoutingEngine
from handoff.routing.memory import MemoryRoutingBackend
from handoff.routing.state import AgentState, RoutingState, Ticket

__all__ = ["AgentState", "MemoryRoutingBackend", "RoutingBackend", "RoutingEngine", "RoutingState", "Ticket"]
