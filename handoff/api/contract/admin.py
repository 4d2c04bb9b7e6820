"""The admin API's bodies: a visitor's data, the bot's switches."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from handoff.api.contract.common import Absent, Answer, Body
from handoff.botswitch import MAX_DISABLED_INTENTS

IntentName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]


class VisitorExport(Answer):
    visitor_id: str
    conversations: list[dict[str, Any]]


class Erased(Answer):
    erased_conversations: int


class BotSwitch(Answer):
    enabled: bool
    disabled_intents: list[str]


class ChangeBotSwitch(Body):
    """Either field may be left out (it stays as it is); not both."""

    enabled: bool | Absent = None
    disabled_intents: Annotated[list[IntentName], Field(max_length=MAX_DISABLED_INTENTS)] | Absent = None

    @model_validator(mode="after")
    def _something(self) -> ChangeBotSwitch:
        if self.enabled is None and self.disabled_intents is None:
            raise ValueError("give enabled, disabled_intents or both")
        return self
