"""Latency of the bot: NLU parse and a full REST turn (run with .venv/bin/python).

    .venv/bin/python scripts/bench_bot.py                       # starts its own bot
    .venv/bin/python scripts/bench_bot.py --url http://127.0.0.1:5005   # a running one

Without --url it starts the real action server and Rasa server on free ports
(handoff/botprocess.py, the launcher `relais run --with-bot` and the tests use)
with bot/models/relais.tar.gz, and stops them at the end. Then, one request at a time after a warm-up:

- `POST /model/parse` with French and English messages (NLU only), `--parse` times;
- `POST /webhooks/rest/webhook` (a whole turn: NLU, policies, the action server
  for custom actions and slot mappings, response rendering), `--turns` times,
  spread over 20 conversations with the widget's metadata.

Prints p50 / p95 / mean / max in milliseconds and writes reports/bench_bot.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from handoff.botprocess import BotProcesses, free_ports  # noqa: E402 - after the path set-up

MESSAGES = [
    ("fr", "combien coûte la livraison ?"),
    ("en", "how long does shipping take?"),
    ("fr", "vous prenez paypal ?"),
    ("en", "what is your return policy?"),
    ("fr", "le porte-vélos thule est en stock ?"),
    ("en", "any discount code?"),
    ("fr", "vous êtes ouverts le samedi ?"),
    ("en", "how long is the warranty?"),
    ("fr", "merci beaucoup"),
    ("en", "hello"),
]


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    quantiles = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(quantiles[94], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "max_ms": round(ordered[-1], 2),
    }


async def timed_post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    async with http.post(url, json=body) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered HTTP {response.status}")
    return (time.perf_counter() - start) * 1000


async def bench(base_url: str, parses: int, turns: int, token: str | None) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        auth = f"?token={token}" if token else ""  # Rasa's HTTP API wants it; the REST channel does not
        parse_url, rest_url = f"{base_url}/model/parse{auth}", f"{base_url}/webhooks/rest/webhook"
        for _, text in MESSAGES:  # warm-up: first calls build TensorFlow graphs
            await timed_post(http, parse_url, {"text": text})
        parse_ms = [
            await timed_post(http, parse_url, {"text": MESSAGES[i % len(MESSAGES)][1]})
            for i in range(parses)
        ]
        run_id = int(time.time())
        turn_ms = []
        for i in range(turns):
            language, text = MESSAGES[i % len(MESSAGES)]
            sender = f"bench-{run_id}-{i % 20}"
            body = {"sender": sender, "message": text,
                    "metadata": {"language": language, "conversation_id": sender,
                                 "page_url": "https://shop.example/"}}
            turn_ms.append(await timed_post(http, rest_url, body))
    return {"url": base_url, "model_parse": summary(parse_ms), "rest_turn": summary(turn_ms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running Rasa server (default: start one)")
    parser.add_argument("--token", help="that server's --auth-token, if it has one")
    parser.add_argument("--parse", type=int, default=200, help="number of /model/parse requests")
    parser.add_argument("--turns", type=int, default=100, help="number of REST turns")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "bench_bot.json")
    args = parser.parse_args()

    bot = None
    url, token = args.url, args.token
    if url is None:
        rasa_port, actions_port = free_ports(2)
        bot = BotProcesses(rasa_port=rasa_port, actions_port=actions_port)
        print(f"starting the bot (logs in {bot.log_dir})…", flush=True)
        started = time.monotonic()
        try:
            bot.launch()
            bot.wait_until_ready()
        except Exception:
            bot.terminate()
            raise
        print(f"bot ready in {time.monotonic() - started:.0f} s", flush=True)
        url, token = bot.url, bot.auth_token
    try:
        result = asyncio.run(bench(url, args.parse, args.turns, token))
    finally:
        if bot is not None:
            bot.terminate()
    result["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for name in ("model_parse", "rest_turn"):
        s = result[name]
        print(f"{name:12} n={s['n']:4}  p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  "
              f"mean {s['mean_ms']:7.2f} ms  max {s['max_ms']:7.2f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
