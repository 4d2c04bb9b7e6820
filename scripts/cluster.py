"""`make cluster`: two service instances on this machine's PostgreSQL and Redis behind one port.

    .venv/bin/python scripts/cluster.py [--port 8080] [--with-bot]

Starts `relais run` twice (ports --port + 1 and --port + 2) on one PostgreSQL
database and one Redis — the arrangement of the two-instance tests
(tests/api/test_realtime_across_instances.py) — and a small round-robin reverse
proxy on --port that forwards HTTP requests and WebSockets (each new request or
socket to the next instance). Ctrl-C stops the proxy, then both instances.

Defaults (environment): DATABASE_URL postgresql+asyncpg://postgres@127.0.0.1:5432/relais_cluster
(created when missing), REDIS_URL redis://127.0.0.1:6379/12. `--with-bot` also starts
one Rasa server and action server that both instances share (bot/models/relais.tar.gz).
The proxy stands in for a real load balancer (docs/scaling.md); it is a development
tool, not a production one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/relais_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


class Upstream:
    """The instances behind the proxy, taken in turn, and one client session to reach them."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._turn = itertools.cycle(self.urls)
        self.session: aiohttp.ClientSession | None = None

    def next(self) -> str:
        return next(self._turn)


UPSTREAM = web.AppKey("upstream", Upstream)


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for frame in source:
        if frame.type is aiohttp.WSMsgType.TEXT:
            await sink.send_str(frame.data)
        elif frame.type is aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(frame.data)
    # The instance's close code goes through (4401: log in again; 1012: reconnect).
    await sink.close(code=source.close_code or aiohttp.WSCloseCode.OK)


async def _websocket(request: web.Request, target: str, session: aiohttp.ClientSession) -> web.StreamResponse:
    upstream = await session.ws_connect(target.replace("http", "ws", 1), autoping=True)
    client = web.WebSocketResponse(autoping=True)
    await client.prepare(request)
    pumps = [asyncio.create_task(_pump(client, upstream)), asyncio.create_task(_pump(upstream, client))]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        await upstream.close()
        await client.close()
    return client


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward one request (or one WebSocket) to the next instance."""
    upstream = request.app[UPSTREAM]
    assert upstream.session is not None
    target = upstream.next() + request.rel_url.raw_path_qs
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _websocket(request, target, upstream.session)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["X-Forwarded-For"] = request.remote or ""
    try:
        async with upstream.session.request(request.method, target, headers=headers, data=await request.read(),
                                            allow_redirects=False) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
            return web.Response(status=answer.status, headers=kept, body=body)
    except aiohttp.ClientError as exc:
        return web.json_response({"error": f"instance unreachable: {exc}"}, status=502)


def proxy_app(urls: Sequence[str]) -> web.Application:
    """The round-robin reverse proxy in front of the instances at `urls`."""
    app = web.Application(client_max_size=1024 * 1024)
    app[UPSTREAM] = Upstream(urls)

    async def session(app: web.Application) -> AsyncIterator[None]:
        app[UPSTREAM].session = aiohttp.ClientSession(auto_decompress=False)
        yield
        await app[UPSTREAM].session.close()

    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


# --- the instances ----------------------------------------------------------------------------


async def _ensure_database(url: str) -> None:
    import asyncpg  # the service's PostgreSQL driver

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = "postgresql://" + url.split("://", 1)[1].rsplit("/", 1)[0] + "/postgres"
    connection = await asyncpg.connect(admin)
    try:
        if not await connection.fetchval("select 1 from pg_database where datname = $1", name):
            await connection.execute(f'create database "{name}"')
            print(f"cluster: created database {name}", flush=True)
    finally:
        await connection.close()


async def _wait_healthy(urls: Sequence[str], processes: Sequence[asyncio.subprocess.Process]) -> None:
    async with aiohttp.ClientSession() as http:
        for url in urls:
            for _ in range(600):
                if any(p.returncode is not None for p in processes):
                    raise SystemExit("cluster: an instance exited while starting (see its output above)")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/healthz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"cluster: {url} did not become healthy")


async def serve(args: argparse.Namespace) -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if database_url.startswith("postgresql"):
        await _ensure_database(database_url)
    relais = str(ROOT / ".venv" / "bin" / "relais")
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    upgrade = await asyncio.create_subprocess_exec(relais, "db", "upgrade", env=env)  # once, before both start
    if await upgrade.wait() != 0:
        raise SystemExit("cluster: `relais db upgrade` failed")
    bot = None
    if args.with_bot:
        sys.path.insert(0, str(ROOT))
        from handoff.botprocess import BotProcesses, free_ports

        rasa_port, actions_port = free_ports(2)
        bot = BotProcesses(rasa_port=rasa_port, actions_port=actions_port)
        await bot.start()
        env["RASA_URL"] = bot.url
        print(f"cluster: starting one bot for both instances at {bot.url} (logs in {bot.log_dir})", flush=True)
    ports = (args.port + 1, args.port + 2)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    processes = [await asyncio.create_subprocess_exec(relais, "run", env={**env, "RELAIS_PORT": str(port)})
                 for port in ports]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(proxy_app(urls))
    try:
        await _wait_healthy(urls, processes)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        print(f"\ncluster: http://127.0.0.1:{args.port}/ -> {', '.join(urls)} "
              f"(PostgreSQL {database_url.rsplit('@', 1)[-1]}, Redis {redis_url}). Ctrl-C stops all.\n", flush=True)
        await stop.wait()
    finally:
        print("cluster: stopping…", flush=True)
        await runner.cleanup()
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
        if bot is not None:
            await bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080, help="the proxy's port (instances on the next two)")
    parser.add_argument("--with-bot", action="store_true", help="also start one bot shared by both instances")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
