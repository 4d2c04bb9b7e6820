"""Routing: who among the ambassadors and advisors gets which waiting conversation.

- `policy.py` — the rules, as pure functions (eligibility, choice, go-round, what is
  takeable), and the index keys and ranks that let the state answer them without a scan;
- `state.py` — the entities (agents, waiting tickets, held chats) and their JSON form;
- `indexes.py` — the sorted indexes derived from the entities, and how a change moves them;
- `change.py` — one atomic change of one brand's state (reads, buffered writes);
- `dispatch.py` — the moves of a conversation and the dispatch of what a change freed;
- `backend.py` — running changes atomically, in memory (`memory.py`) or on Redis (`redis.py`);
- `engine.py` — the operations (enqueue, accept, claim, presence, sweep …);
- `outcomes.py` — what an operation changed, for the services to apply.

See docs/routing.md.
"""

from handoff.routing.backend import RoutingBackend
from handoff.routing.engine import RoutingEngine
from handoff.routing.memory import MemoryRoutingBackend
from handoff.routing.state import AgentState, RoutingState, Ticket

__all__ = ["AgentState", "MemoryRoutingBackend", "RoutingBackend", "RoutingEngine", "RoutingState", "Ticket"]
