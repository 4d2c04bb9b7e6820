"""The bot bridge: talks to the Rasa server over loopback HTTP.

It sends a visitor's message to Rasa's REST channel with the conversation's
metadata, turns Rasa's answers into `BotReply` objects, recognises the bot's
handoff payload (docs/handoff-protocol.md) and reads the NLU intent of the
message from the tracker, and which model answered (Rasa's `/status`, read on the
first turn, again every `MODEL_REFRESH_SECONDS` and after Rasa failed: not one
extra request per turn; a promotion or rollback, seen as a change of the models'
history.json, also makes it read again). A transient failure (Rasa unreachable,
5xx, slow past the timeout: what a restart or a model being loaded looks like) is
tried again after a short pause, at most three attempts within twice the timeout,
so a visitor talking across a promotion gets an answer. Any failure that remains —
Rasa down, slow, erroring — surfaces as one exception, `BotUnavailable`, so
callers have a single degraded path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from handoff.domain import BotReply, HandoffReason, HandoffRequest, Pool
from handoff.observability.metrics import Metrics

log = logging.getLogger(__name__)
MODEL_REFRESH_SECONDS = 30.0
# Pauses before trying a failed turn again (Rasa restarting, or loading a model): at most three
# attempts, and never past twice the timeout in all.
RETRY_DELAYS_SECONDS = (0.25, 0.75)


class BotUnavailable(Exception):
    """The bot could not answer (down, timed out or erroring)."""


class _Failure(Exception):
    """One failed attempt: its metric kind, and whether trying again may help."""

    def __init__(self, kind: str, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.transient = transient


@dataclass(frozen=True, slots=True)
class BotTurn:
    """The bot's answers to one visitor message and what NLU understood of it."""

    replies: tuple[BotReply, ...]
    intent: str | None = None
    confidence: float | None = None
    model: dict[str, str] | None = None  # Rasa's `model_id` and `model_file`, as /status last said

    @property
    def handoff(self) -> HandoffRequest | None:
        return next((reply.handoff for reply in self.replies if reply.handoff), None)


def parse_handoff(custom: Any, default_language: str) -> HandoffRequest | None:
    """Validate the bot's `{"handoff": {...}}` payload; None if it is not one."""
    if not isinstance(custom, dict) or not isinstance(custom.get("handoff"), dict):
        return None
    payload = custom["handoff"]
    try:
        pool = Pool(payload.get("pool", "advisor"))
        reason = HandoffReason(payload.get("reason", "intent"))
    except ValueError:
        log.warning("bot bridge: ignoring an invalid handoff payload %r", payload)
        return None
    skill = payload.get("skill")
    language = payload.get("language") or default_language
    return HandoffRequest(
        pool=pool,
        language=str(language),
        skill=str(skill) if skill else None,
        reason=reason,
        note=str(payload["intent"]) if payload.get("intent") else None,
    )


def parse_replies(raw: Any, default_language: str) -> tuple[BotReply, ...]:
    """Turn the REST channel's JSON list into replies; unknown shapes are dropped."""
    if not isinstance(raw, list):
        raise BotUnavailable(f"unexpected answer from Rasa: {type(raw).__name__}")
    replies: list[BotReply] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        text = item.get("text") if isinstance(item.get("text"), str) else None
        buttons = tuple(
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in item.get("buttons") or ()
            if isinstance(b, dict)
        )
        handoff = parse_handoff(item.get("custom"), default_language)
        if text or buttons or handoff:
            replies.append(BotReply(text=text, buttons=buttons, handoff=handoff))
    return tuple(replies)


class BotBridge:
    """Client of one Rasa server (REST channel + HTTP API)."""

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        metrics: Metrics | None = None,
        *,
        token: str | None = None,
        history_path: Path | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._metrics = metrics or Metrics()
        # Rasa's HTTP API (trackers, status) wants its --auth-token; the REST channel does not.
        self._auth: dict[str, str] = {"token": token} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._timeout_seconds = timeout_seconds
        self._history_path = history_path
        self._history_stamp: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._model: dict[str, str] | None = None
        self._model_read_at: float | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "BotBridge.start() was not called"
        return self._session

    async def ask(
        self, conversation_id: str, text: str, *, language: str, page_url: str | None
    ) -> BotTurn:
        """Send one visitor message; return the bot's replies and the message's intent."""
        body = {
            "sender": conversation_id,
            "message": text,
            "metadata": {"language": language, "conversation_id": conversation_id, "page_url": page_url},
        }
        started = time.perf_counter()
        self._watch_history()
        raw = await self._post_with_retries(body)
        try:
            replies = parse_replies(raw, language)
        except BotUnavailable:
            self._metrics.bot_error("bad_answer")
            raise
        self._metrics.bot_answered(time.perf_counter() - started)
        intent, confidence = await self._latest_intent(conversation_id)
        return BotTurn(replies=replies, intent=intent, confidence=confidence, model=await self._current_model())

    async def _post_with_retries(self, body: dict[str, Any]) -> Any:
        """POST to the REST channel; a transient failure (unreachable, 5xx, timeout) is tried
        again after RETRY_DELAYS_SECONDS, while the whole stays within twice the timeout."""
        started = time.monotonic()
        budget = 2 * self._timeout_seconds
        for attempt, delay in enumerate((*RETRY_DELAYS_SECONDS, None), start=1):
            try:
                return await self._post(body)
            except _Failure as failure:
                self.forget_model()
                if not failure.transient or delay is None or time.monotonic() - started + delay >= budget:
                    self._metrics.bot_error(failure.kind)
                    raise BotUnavailable(str(failure)) from failure.__cause__
                log.warning("bot bridge: %s (attempt %d); trying again in %.2f s", failure, attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _post(self, body: dict[str, Any]) -> Any:
        try:
            async with self.session.post(
                f"{self._base_url}/webhooks/rest/webhook", json=body, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise _Failure("http", f"Rasa answered HTTP {response.status}", transient=response.status >= 500)
                return await response.json(content_type=None)
        except TimeoutError as exc:
            raise _Failure("timeout", f"Rasa did not answer in time: {exc!r}", transient=True) from exc
        except ValueError as exc:
            raise _Failure("bad_answer", f"Rasa's answer is not JSON: {exc!r}", transient=False) from exc
        except aiohttp.ClientError as exc:
            raise _Failure("unreachable", f"Rasa unreachable: {exc!r}", transient=True) from exc

    def _watch_history(self) -> None:
        """A promotion or rollback (history.json changed, e.g. by `relais bot promote`): read the
        model again. One stat() per turn, no request."""
        if self._history_path is None:
            return
        try:
            stamp: int | None = self._history_path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp != self._history_stamp:
            self._history_stamp = stamp
            self.forget_model()

    def forget_model(self) -> None:
        """Read the model again at the next turn (Rasa failed, or a new model was loaded)."""
        self._model_read_at = None

    async def _current_model(self) -> dict[str, str] | None:
        now = time.monotonic()
        if self._model_read_at is not None and now - self._model_read_at < MODEL_REFRESH_SECONDS:
            return self._model
        self._model_read_at = now
        try:
            async with self.session.get(
                f"{self._base_url}/status", params=self._auth, timeout=self._timeout
            ) as response:
                status = await response.json(content_type=None) if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            status = None
        if not isinstance(status, dict):
            return self._model  # best effort: read again after MODEL_REFRESH_SECONDS
        model = {key: str(status[key]) for key in ("model_id", "model_file") if status.get(key)}
        if model != self._model:
            log.info("bot bridge: the bot answers with model %s", model or "unknown")
        self._model = model or None
        return self._model

    async def _latest_intent(self, conversation_id: str) -> tuple[str | None, float | None]:
        """Read what NLU understood of the last message; best effort (None on failure)."""
        try:
            async with self.session.get(
                f"{self._base_url}/conversations/{conversation_id}/tracker",
                params={"include_events": "NONE", **self._auth},
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    return None, None
                tracker = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None, None
        intent = (tracker.get("latest_message") or {}).get("intent") or {}
        name = intent.get("name")
        confidence = intent.get("confidence")
        return (
            str(name) if name else None,
            float(confidence) if isinstance(confidence, int | float) else None,
        )

    async def healthy(self) -> bool:
        try:
            async with self.session.get(
                f"{self._base_url}/status", params=self._auth, timeout=self._timeout
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
