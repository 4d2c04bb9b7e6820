"""SIGKILL in the middle of live conversations, then a restart on the same PostgreSQL
and Redis: nothing acknowledged is lost, every client resumes where it was.

50 conversations (20 with the bot, 15 held by 5 agents, 15 waiting in the queue),
every visitor and agent on a WebSocket and talking (tests/faults/load.py), when
the service process is killed. Clients retry what was not acknowledged and
reconnect, as the widget and the console do, until the restarted instance answers.
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
async def test_sigkill_during_50_live_conversations_then_restart_loses_nothing(
    processes: ServiceProcesses, stack_settings: Settings, misbehaving_rasa: MisbehavingRasa, stack: str
) -> None:
    instance = await processes.start("a", fault_settings(stack_settings, misbehaving_rasa))
    async with aiohttp.ClientSession() as http:
        scene = await open_scene(http, instance.settings, lambda i: [instance.url],
                                 with_bot=20, agents=5, held_each=3, waiting=15)
        queue = await scene.queue()
        assert queue == [v.conversation_id for v in scene.waiting]
        held = await scene.held()
        chatter = Chatter(scene.visitors, scene.agents, PAUSE_SECONDS)
        try:
            chatter.start_sockets()
            chatter.start_talking()
            await each_said_more(chatter, scene, {}, 2)
            positions = {v.conversation_id: list(v.positions) for v in scene.waiting}

            instance.kill()
            marks = acked_marks(scene)
            await instance.start()  # same port, same store, same Redis

            await each_said_more(chatter, scene, marks, 2)
            await chatter.stop_talking()
            assert all(client.socket_sessions >= 2 for client in clients(scene))
            # Waiting conversations keep their place; agents keep their chats.
            assert await scene.queue() == queue
            assert await scene.held() == held
            for place, visitor in enumerate(scene.waiting, start=1):
                assert positions[visitor.conversation_id][-1] == place
                assert visitor.positions[-1] == place  # told again by the restarted instance
            await check_nothing_lost(scene)
        finally:
            await chatter.close()
