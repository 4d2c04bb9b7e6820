"""The admin API's bodies: agents' accounts, the settings view, a visitor's data,
the bot's switches and its models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from handoff.agents import MAX_CAPACITY
from handoff.api.contract.common import EMPTY_IS_ABSENT, NOT_BLANK, Absent, Answer, Body, bounded
from handoff.api.contract.common import Agent as CommonAgent
from handoff.botswitch import MAX_DISABLED_INTENTS
from handoff.domain import AgentRole

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


# --- agents' accounts ------------------------------------------------------------------

MAX_LIST_ITEMS = 50
ShortText = Annotated[str, bounded(64), NOT_BLANK]
Password = Annotated[str, bounded(256), NOT_BLANK]
DisplayName = Annotated[Annotated[str, bounded(100), NOT_BLANK] | Absent, EMPTY_IS_ABSENT]
Names = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_LIST_ITEMS)]
Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY)]


class Strict(Body):
    """An account's body: an unknown field is refused (a typo must not pass unnoticed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NewAgent(Strict):
    """Languages among the supported ones, skills among the product categories (checked by the store)."""

    username: ShortText
    password: Password
    role: AgentRole
    languages: Names
    skills: Names | Absent = None
    capacity: Capacity | Absent = None
    display_name: DisplayName = None


class ChangeAgent(Strict):
    """Only the fields given change (one at least)."""

    role: AgentRole | Absent = None
    languages: Names | Absent = None
    skills: Names | Absent = None
    capacity: Capacity | Absent = None
    display_name: DisplayName = None
    active: bool | Absent = None

    @model_validator(mode="after")
    def _something(self) -> ChangeAgent:
        if not self.model_fields_set:
            raise ValueError("give at least one of: active, capacity, display_name, languages, role, skills")
        return self


class NewPassword(Strict):
    password: Password


class AdminAgent(CommonAgent):
    """An account as admins see it: with `active`."""

    active: bool


class AgentAnswer(Answer):
    agent: AdminAgent


class AgentList(Answer):
    agents: list[AdminAgent]


class SettingsAnswer(Answer):
    """The effective settings (file and environment), secrets redacted."""

    settings: dict[str, Any]


# --- the bot's models ------------------------------------------------------------------

class ModelChange(Answer):
    """A promotion or a rollback."""

    action: str
    model: str
    previous: str | None
    at: str
    by: str


class ModelFile(Answer):
    name: str
    size: int
    modified: str


class BotModels(Answer):
    """The models, the current one, the one Rasa runs, the start-up link and the history."""

    current: str | None
    running: str | None
    linked: str | None
    models: list[ModelFile]
    history: list[ModelChange]


class PromoteModel(Body):
    """A model's file name (relais-<sha12>.tar.gz) or the start of its hash."""

    model: Annotated[str, bounded(128), NOT_BLANK, Field(pattern=r"^[^/]*$")]
