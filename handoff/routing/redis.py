"""Redis routing backend: one key per entity and per index, shared by every instance.

Keys of a brand carry the brand as a hash tag, `<prefix>{<brand>}:…`, so a Redis
Cluster keeps a brand's keys on one shard and a change's script may touch them all:

- `a:<agent>`, `t:<conversation>`, `c:<conversation>` — an agent, a waiting ticket,
  a held chat: `<version>|<json>` strings;
- the indexes of `indexes.py` (`ix:…`, `q:…`, `pos:…`, `waiting`, `timers`,
  `agents`, `skills`) — sorted sets;
- `order:tail`, `order:head` — queue order counters (INCR/DECR);
- `hb:<agent>` — the last heartbeat, an expiring key nobody else writes.

Outside the brand: `<prefix>brand:agent:<id>` / `<prefix>brand:conv:<id>` (which
brand an id belongs to), `<prefix>brands`, and `<prefix>epoch`, a random token
written once the state was restored from the store: when it is missing, the state
was lost (Redis restarted without persistence, or was flushed) and must be
restored again (`state_lost`); when it changed, another instance restored it.
Either way this instance's caches of brands are dropped.

A change reads the entities it needs (GET, pipelined), the index heads it looks
at (ZRANGE), and commits with one Lua script: if any entity it read has another
version now, the script writes nothing and the operation runs again on fresh data
(optimistic concurrency, per entity: two changes conflict only when they touch
the same agent or conversation); otherwise it writes the entities with their
versions bumped and applies the index operations, atomically. Index writes are
not version-checked: every index entry is derived from an entity written in the
same script, so the indexes stay exactly as true as the entities.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from handoff.config import RoutingSettings
from handoff.redis_client import connect
from handoff.routing import indexes
from handoff.routing.backend import Operation, RoutingBackend, T
from handoff.routing.change import Change, Scored, StaleRead
from handoff.routing.state import AgentState, Chat, RoutingState, Ticket

MAX_ATTEMPTS = 100
BACKOFF_SECONDS = 0.001
BRAND_TTL_SECONDS = 30 * 24 * 3600
BRAND_CACHE_SIZE = 100_000

# KEYS[1], KEYS[2]: the brand's tail and head order counters. ARGV: n_tail, n_head
# (new queue orders this change takes, written "@T<k>" / "@H<k>" as the value of
# an "order" field in payloads, and as scores); n_checks, then (key index, expected version) each; n_sets, then (key
# index, payload or "" to delete, new version) each; n_index_ops, then ("+", key
# index, score, member) or ("-", key index, member) each. Returns 1 if committed,
# 0 if an entity changed since it was read (then nothing is written).
COMMIT = """
local n_tail, n_head = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = 3
local n = tonumber(ARGV[a]); a = a + 1
for i = 1, n do
  local current = redis.call('GET', KEYS[tonumber(ARGV[a])])
  local version = '0'
  if current then version = string.match(current, '^(%d+)|') end
  if version ~= ARGV[a + 1] then return 0 end
  a = a + 2
end
-- Queue orders are taken at commit, so the queue order is the commit order.
local orders = {}
if n_tail > 0 then
  local last = redis.call('INCRBY', KEYS[1], n_tail)
  for k = 1, n_tail do orders['@T' .. k] = tostring(last - n_tail + k) end
end
if n_head > 0 then
  local last = redis.call('DECRBY', KEYS[2], n_head)
  for k = 1, n_head do orders['@H' .. k] = tostring(last + n_head - k) end
end
n = tonumber(ARGV[a]); a = a + 1
for i = 1, n do
  local key = KEYS[tonumber(ARGV[a])]
  if ARGV[a + 1] == '' then
    redis.call('DEL', key)
  else
    local payload = string.gsub(ARGV[a + 1], '"order":"(@[TH]%d+)"',
      function(placeholder) return '"order":' .. orders[placeholder] end)
    redis.call('SET', key, ARGV[a + 2] .. '|' .. payload)
  end
  a = a + 3
end
n = tonumber(ARGV[a]); a = a + 1
for i = 1, n do
  if ARGV[a] == '+' then
    redis.call('ZADD', KEYS[tonumber(ARGV[a + 1])], orders[ARGV[a + 2]] or ARGV[a + 2], ARGV[a + 3])
    a = a + 4
  else
    redis.call('ZREM', KEYS[tonumber(ARGV[a + 1])], ARGV[a + 2])
    a = a + 3
  end
end
return 1
"""

# Provisional orders a change uses until the commit gives the real ones: behind
# (tail) or before (head) every committed order, in the order they were taken.
PROVISIONAL_TAIL = 1e15
PROVISIONAL_HEAD = -1e15

_KINDS = {"agent": "a", "ticket": "t", "chat": "c"}


class StateContended(RuntimeError):
    """The same entities kept changing under a change: too many writers on one conversation or agent."""


def _decode(raw: Any) -> tuple[str, dict[str, Any] | None]:
    if raw is None:
        return "0", None
    version, _, payload = raw.partition("|")
    return version, json.loads(payload)


class RedisChange(Change):
    def __init__(self, backend: RedisRoutingBackend, brand: str, settings: RoutingSettings) -> None:
        super().__init__(brand, settings)
        self._backend = backend
        self._base = backend.brand_prefix(brand)
        self.versions: dict[str, str] = {}  # entity key -> version read
        self._placeholders: dict[float, str] = {}  # provisional order -> "@T<k>" / "@H<k>"
        self._tails = self._heads = 0

    def key(self, kind: str, ident: str) -> str:
        return f"{self._base}{_KINDS[kind]}:{ident}"

    async def _load(
        self, agents: Iterable[str], tickets: Iterable[str], chats: Iterable[str]
    ) -> tuple[dict[str, AgentState | None], dict[str, Ticket | None], dict[str, Chat | None]]:
        wanted = [("agent", a) for a in agents] + [("ticket", t) for t in tickets] + [("chat", c) for c in chats]
        keys = [self.key(kind, ident) for kind, ident in wanted]
        raws = await self._backend.redis.mget(keys)
        loaded_agents: dict[str, AgentState | None] = {}
        loaded_tickets: dict[str, Ticket | None] = {}
        loaded_chats: dict[str, Chat | None] = {}
        for (kind, ident), key, raw in zip(wanted, keys, raws, strict=True):
            version, data = _decode(raw)
            self.versions[key] = version
            if kind == "agent":
                loaded_agents[ident] = AgentState.from_json(data) if data else None
            elif kind == "ticket":
                loaded_tickets[ident] = Ticket.from_json(data) if data else None
            else:
                loaded_chats[ident] = Chat.from_json(data) if data else None
        return loaded_agents, loaded_tickets, loaded_chats

    async def _first(self, key: str, count: int) -> list[Scored]:
        return (await self._firsts({key: count}))[key]

    async def _firsts(self, wanted: dict[str, int]) -> dict[str, list[Scored]]:
        if not wanted:
            return {}
        async with self._backend.redis.pipeline(transaction=False) as pipe:
            for key, count in wanted.items():
                pipe.zrange(self._base + key, 0, count - 1, withscores=True)
            results = await pipe.execute()
        return {key: [(str(m), float(s)) for m, s in members] for key, members in zip(wanted, results, strict=True)}

    async def skills(self) -> list[str]:
        return [str(m) for m in await self._backend.redis.zrange(self._base + indexes.SKILLS, 0, -1)]

    async def next_order(self, *, at_head: bool) -> float:
        if at_head:
            self._heads += 1
            order, name = PROVISIONAL_HEAD - self._heads, f"@H{self._heads}"
        else:
            self._tails += 1
            order, name = PROVISIONAL_TAIL + self._tails, f"@T{self._tails}"
        self._placeholders[order] = name
        return order

    async def last_heartbeat(self, agent_id: str) -> float | None:
        raw = await self._backend.redis.get(self._base + f"hb:{agent_id}")
        return float(raw) if raw is not None else None

    async def commit(self) -> bool:
        keys: list[str] = [self._base + "order:tail", self._base + "order:head"]
        positions: dict[str, int] = {key: i + 1 for i, key in enumerate(keys)}

        def slot(key: str) -> int:
            if key not in positions:
                keys.append(key)
                positions[key] = len(keys)
            return positions[key]

        written = self.written_entities()
        expected = dict(self.versions)
        for kind, ident, _ in written:
            expected.setdefault(self.key(kind, ident), "0")  # written unread: must not exist yet
        args: list[Any] = [self._tails, self._heads, len(expected)]
        for key, version in expected.items():
            args += [slot(key), version]
        args.append(len(written))
        for kind, ident, value in written:
            key = self.key(kind, ident)
            payload = "" if value is None else json.dumps(self._with_placeholders(value.to_json()), separators=(",", ":"))
            args += [slot(key), payload, str(int(expected[key]) + 1)]
        ops = self.index_ops()
        args.append(len(ops))
        for op in ops:
            if op.score is None:
                args += ["-", slot(self._base + op.key), op.member]
            else:
                score = self._placeholders.get(op.score) or repr(op.score)
                args += ["+", slot(self._base + op.key), score, op.member]
        return int(await self._backend.commit_script(keys=keys, args=args)) == 1

    def _with_placeholders(self, data: dict[str, Any]) -> dict[str, Any]:
        """A ticket's (or a chat's ticket's) provisional order, as the script's placeholder."""
        if not self._placeholders:
            return data
        order = data.get("order")
        if isinstance(order, float) and order in self._placeholders:
            data["order"] = self._placeholders[order]
        if isinstance(data.get("ticket"), dict):
            data["ticket"] = self._with_placeholders(data["ticket"])
        return data


class RedisRoutingBackend(RoutingBackend):
    def __init__(self, url: str, key_prefix: str) -> None:
        self._url = url
        self.key_prefix = key_prefix
        self._redis: aioredis.Redis | None = None
        self.commit_script: Any = None
        self._brand_cache: dict[str, str] = {}
        self._known_brands: set[str] = set()
        self._epoch: str | None = None  # the epoch this instance's caches belong to

    async def start(self) -> None:
        self._redis = connect(self._url, decode_responses=True)
        await self._redis.ping()
        self.commit_script = self._redis.register_script(COMMIT)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def redis(self) -> aioredis.Redis:
        assert self._redis is not None, "RedisRoutingBackend.start() was not called"
        return self._redis

    async def state_lost(self) -> bool:
        epoch = await self.redis.get(self.key_prefix + "epoch")
        if epoch is not None and epoch == self._epoch:
            return False
        # Restored by another instance, or lost: what this instance cached may be gone from Redis.
        self._brand_cache.clear()
        self._known_brands.clear()
        self._epoch = None if epoch is None else str(epoch)
        return epoch is None

    async def mark_restored(self) -> None:
        key = self.key_prefix + "epoch"
        await self.redis.set(key, uuid.uuid4().hex, nx=True)  # instances restoring together share one
        epoch = await self.redis.get(key)
        self._epoch = None if epoch is None else str(epoch)

    def brand_prefix(self, brand: str) -> str:
        return f"{self.key_prefix}{{{brand}}}:"

    async def run(self, brand: str, settings: RoutingSettings, operation: Operation[T]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            change = RedisChange(self, brand, settings)
            try:
                result = await operation(change)
            except StaleRead:
                continue  # another instance committed between two reads: read again
            if not change.changed or await change.commit():
                return result
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * min(attempt + 1, 10)))
        raise StateContended(f"routing state of brand {brand!r} changed under {MAX_ATTEMPTS} attempts")

    # --- brands ---------------------------------------------------------------------------

    def _brand_key(self, agent_id: str | None, conversation_id: str | None) -> str:
        if agent_id is not None:
            return f"{self.key_prefix}brand:agent:{agent_id}"
        return f"{self.key_prefix}brand:conv:{conversation_id}"

    async def remember_brand(self, *, agent_id: str | None = None, conversation_id: str | None = None,
                             brand: str) -> None:
        key = self._brand_key(agent_id, conversation_id)
        if self._brand_cache.get(key) == brand:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, brand, nx=True, ex=BRAND_TTL_SECONDS)
            if brand not in self._known_brands:
                pipe.sadd(self.key_prefix + "brands", brand)
            created, *_ = await pipe.execute()
        self._known_brands.add(brand)
        # An id keeps the brand it was first given; read it back only when it had one.
        stored = None if created else await self.redis.get(key)
        self._cache_brand(key, brand if stored is None else str(stored))

    def _cache_brand(self, key: str, brand: str) -> None:
        if len(self._brand_cache) >= BRAND_CACHE_SIZE:
            self._brand_cache.clear()  # ids come and go; a miss costs one GET
        self._brand_cache[key] = brand

    async def brand_of(self, *, agent_id: str | None = None, conversation_id: str | None = None) -> str | None:
        key = self._brand_key(agent_id, conversation_id)
        cached = self._brand_cache.get(key)
        if cached is not None:
            return cached
        stored = await self.redis.get(key)
        if stored is not None:
            self._cache_brand(key, str(stored))
        return None if stored is None else str(stored)

    async def brands(self) -> list[str]:
        return sorted(str(b) for b in await self.redis.smembers(self.key_prefix + "brands"))

    # --- heartbeats and reads -----------------------------------------------------------

    async def heartbeat(self, agent_id: str, now: float, ttl: float) -> None:
        brand = await self.brand_of(agent_id=agent_id)
        if brand is not None:
            await self.redis.set(self.brand_prefix(brand) + f"hb:{agent_id}", repr(now), px=max(1, int(ttl * 2000)))

    async def agents(self, brand: str, agent_ids: list[str] | None = None) -> list[AgentState]:
        base = self.brand_prefix(brand)
        if agent_ids is None:
            agent_ids = [str(m) for m in await self.redis.zrange(base + indexes.AGENTS, 0, -1)]
        if not agent_ids:
            return []
        raws = await self.redis.mget([f"{base}a:{a}" for a in agent_ids])
        return [AgentState.from_json(data) for _, data in map(_decode, raws) if data]

    async def tickets(self, brand: str, conversation_ids: list[str]) -> list[Ticket]:
        if not conversation_ids:
            return []
        base = self.brand_prefix(brand)
        raws = await self.redis.mget([f"{base}t:{c}" for c in conversation_ids])
        return [Ticket.from_json(data) for _, data in map(_decode, raws) if data]

    async def members(self, brand: str, key: str, count: int | None = None,
                      *, max_score: float | None = None) -> list[Scored]:
        full = self.brand_prefix(brand) + key
        found: Any
        if max_score is not None:
            found = await self.redis.zrangebyscore(full, "-inf", repr(max_score), start=0,
                                                   num=count if count is not None else -1, withscores=True)
        else:
            found = await self.redis.zrange(full, 0, -1 if count is None else count - 1, withscores=True)
        return [(str(m), float(s)) for m, s in found]

    async def rank(self, brand: str, key: str, member: str) -> int | None:
        found: Any = await self.redis.zrank(self.brand_prefix(brand) + key, member)
        return None if found is None else int(found)

    async def snapshot(self, brand: str) -> RoutingState:
        base = self.brand_prefix(brand)
        agents = {a.agent_id: a for a in await self.agents(brand)}
        tickets = await self.tickets(brand, [cid for cid, _ in await self.members(brand, indexes.WAITING)])
        held = [cid for agent in agents.values() for cid in agent.active]
        chats: dict[str, Chat] = {}
        if held:
            for _, data in map(_decode, await self.redis.mget([f"{base}c:{cid}" for cid in held])):
                if data:
                    chat = Chat.from_json(data)
                    chats[chat.conversation_id] = chat
        return RoutingState(agents=agents, tickets=tickets, chats=chats)
