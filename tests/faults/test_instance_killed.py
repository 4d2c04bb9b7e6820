"""Two instances on one PostgreSQL and one Redis, under load; one is SIGKILLed: its
clients reconnect to the other and carry on, and nothing acknowledged is lost.

Half the visitors and agents talk to instance A, half to B (as a load balancer
would spread them); each knows both addresses and moves to the other one when
its instance stops answering. After A is killed, every client — A's included —
has messages acknowledged by B both ways (visitors to agents, agents to visitors)
and its socket on B receives them.
"""

from __future__ import annotations

import aiohttp
import pytest

from handoff.config import Settings
from tests.faults.harness import ServiceProcesses
from tests.faults.load import (
    PAUSE_SECONDS,
    Chatter,
    acked_marks,
    check_nothing_lost,
    clients,
    each_said_more,
    fault_settings,
    open_scene,
)
from tests.support.misbehaving_rasa import MisbehavingRasa
from tests.support.service import STACKS

pytestmark = pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql-redis"])


async def test_one_of_two_instances_killed_under_load_its_clients_carry_on_on_the_other(
    processes: ServiceProcesses, stack_settings: Settings, misbehaving_rasa: MisbehavingRasa, stack: str
) -> None:
    settings = fault_settings(stack_settings, misbehaving_rasa)
    a = await processes.start("a", settings)
    b = await processes.start("b", settings)
    async with aiohttp.ClientSession() as http:
        scene = await open_scene(http, settings, lambda i: [a.url, b.url] if i % 2 == 0 else [b.url, a.url],
                                 with_bot=8, agents=4, held_each=2, waiting=8)
        on_a = [client for client in clients(scene) if client.url == a.url]
        a_ids = {id(client) for client in on_a}
        assert on_a and len(on_a) < len(clients(scene))
        queue = await scene.queue()
        held = await scene.held()
        chatter = Chatter(scene.visitors, scene.agents, PAUSE_SECONDS)
        try:
            chatter.start_sockets()
            chatter.start_talking()
            await each_said_more(chatter, scene, {}, 2)
            sessions = {id(client): client.socket_sessions for client in clients(scene)}

            a.kill()
            marks = acked_marks(scene)
            await each_said_more(chatter, scene, marks, 2)
            await chatter.stop_talking()
            # A's clients now talk to B, on a new socket; B's clients never lost theirs.
            assert all(client.url == b.url for client in clients(scene))
            assert all(client.socket_sessions > sessions[id(client)] for client in on_a)
            assert all(client.socket_sessions == sessions[id(client)]
                       for client in clients(scene) if id(client) not in a_ids)
            assert await scene.queue() == queue
            assert await scene.held() == held
            await check_nothing_lost(scene)
        finally:
            await chatter.close()
