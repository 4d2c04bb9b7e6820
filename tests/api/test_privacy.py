"""Visitors' personal data never reaches ambassadors (issue 12): masked in offers,
previews, messages, transcripts and socket events; advisors see it; the store
keeps the original."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from handoff.domain import AgentRole
from handoff.services.privacy import mask_personal_data
from tests.support.service import RunningService, ServiceFactory, add_agent, agent_socket

CARD, EMAIL, PHONE, IBAN = "4111 1111 1111 1111", "jean.dupont@example.fr", "06 12 34 56 78", "FR76 3000 6000 0112 3456 7890 189"
SECRETS = (CARD, EMAIL, PHONE, IBAN, "41111111", "dupont@", "12 34 56", "3000 6000")
TEXT = f"Ma carte {CARD}, mon mail {EMAIL}, tel {PHONE}, IBAN {IBAN}. Le store F45 de 4 m du 03.12.2026 ?"


def _luhn_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str(-total % 10)


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Nd",)), max_size=200).filter(lambda t: "@" not in t))
def test_text_without_digits_or_addresses_is_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


@given(st.from_regex(r"\A[3-6]\d{14}\Z"), st.sampled_from([" ", "-", ""]), st.sampled_from(["", "card: ", "n° "]))
def test_every_luhn_valid_card_number_is_masked_but_its_last_four(body: str, separator: str, before: str) -> None:
    number = body + _luhn_digit(body)
    typed = separator.join(number[i:i + 4] for i in range(0, 16, 4))
    masked = mask_personal_data(f"{before}{typed} merci")
    assert number[:12] not in masked.replace(separator, "") and masked.endswith(f"{number[-4:]} merci"), masked


def test_what_is_masked_and_what_stays_readable() -> None:
    masked = mask_personal_data(TEXT)
    for secret in SECRETS:
        assert secret not in masked, (secret, masked)
    # Product words, sizes and dates stay: the ambassador still understands the question.
    assert masked.endswith("Le store F45 de 4 m du 03.12.2026 ?")
    assert "1111" in masked and "78" in masked  # enough to refer to them
    assert mask_personal_data("carte 4111 1111 1111 1112") == "carte 4111 1111 1111 1112"  # not a card (Luhn)


def _texts(payload: Any) -> str:
    return repr(payload)


async def test_ambassadors_never_receive_visitors_personal_data(service_factory: ServiceFactory) -> None:
    service: RunningService = await service_factory()
    await add_agent(service.settings, "amb", capacity=1)
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    amb, adv = await service.go_online("amb"), await service.go_online("adv")
    socket = await agent_socket(service, amb)
    visitor = await service.start_conversation(page_url=f"https://shop.example/awnings?email={EMAIL}")
    cid = visitor["conversation_id"]
    await service.say(visitor, TEXT)
    await service.ask_human(visitor, pool="ambassador")

    seen: list[Any] = [await socket.next_of("offer"), await service.await_offer(amb, cid)]
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=amb)
    assert status == 200, body
    seen.append(body)
    await service.say(visitor, f"Et mon autre numéro : {PHONE.replace('06', '07')}")
    seen.append(await socket.next_of("message"))
    for path in (f"/api/conversations/{cid}/messages", "/api/agents/me/conversations", "/api/queue"):
        status, body = await service.call("GET", path, token=amb)
        assert status == 200, (path, body)
        seen.append(body)
    everything = _texts(seen) + _texts(socket.seen)
    for secret in (*SECRETS, "07 12 34 56 78"):
        assert secret not in everything, secret
    assert "Le store F45 de 4 m" in everything  # masked, not dropped

    # An advisor (staff) sees the originals; the store keeps them.
    status, transcript = await service.call("GET", f"/api/conversations/{cid}/transcript", token=adv)
    assert status == 200 and TEXT in _texts(transcript) and EMAIL in _texts(transcript)
    assert TEXT in [m["text"] for m in await service.messages(visitor)]
    await socket.close()
