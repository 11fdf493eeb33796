#!/usr/bin/env python3
"""Scripted WebSocket peer for wscap's real captures, using Python's websockets package.

Run by internal/thirdparty/realcap/cmd/realcap as `python3 peer.py CONFIG.json`. CONFIG says the role
(server or client), where to listen or connect, the permessage-deflate factory arguments
(None: no compression) and the script. This side performs its own steps and reads and checks
the other side's data messages; steps marked auto (pongs, close replies) are the library's.

Reports on stdout, one line each: VERSION, RUNTIME, LISTENING <port> (server), EXTENSIONS <value>
(client), DONE. Written against websockets 10.4 (Debian 12's python3-websockets), whose
asyncio API (websockets.serve / websockets.connect) answers pings and close frames by
itself, sends an iterable as a fragmented message (one frame per item, each compressed
with Z_SYNC_FLUSH) and compresses every data message once permessage-deflate is agreed.
"""

import asyncio
import base64
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)


def say(*words):
    print(*words, flush=True)


def data(b64):
    return base64.b64decode(b64)


async def run_script(ws, side, steps):
    for i, st in enumerate(steps):
        if st.get("auto"):
            continue
        op = st["op"]
        if st["from"] == side:
            if op == "close":
                await ws.close(st["close_code"], st.get("close_reason", ""))
                await ws.wait_closed()
                return
            payload = data(st["data_b64"])
            if op in ("text", "binary"):
                frags = st.get("fragments_b64")
                if frags:
                    parts = [data(f) for f in frags]
                    if op == "text":
                        parts = [p.decode("utf-8") for p in parts]
                    await ws.send(parts)
                else:
                    await ws.send(payload.decode("utf-8") if op == "text" else payload)
            elif op == "ping":
                await ws.ping(payload)  # returns a waiter for the pong; not awaited
            elif op == "pong":
                await ws.pong(payload)
            else:
                raise ValueError(f"step {i}: cannot send {op}")
            continue
        if op in ("text", "binary"):
            got = await ws.recv()
            want = data(st["data_b64"])
            if op == "text":
                ok = isinstance(got, str) and got.encode("utf-8") == want
            else:
                ok = isinstance(got, bytes) and got == want
            if not ok:
                raise ValueError(f"step {i}: got {type(got).__name__} of {len(got)}, want {op} of {len(want)}")
        elif op == "close":
            await ws.wait_closed()
            want = (st.get("close_code"), st.get("close_reason", ""))
            if (ws.close_code, ws.close_reason) != want:
                raise ValueError(f"step {i}: got close {ws.close_code} {ws.close_reason!r}, want {want}")
            return
    raise ValueError("script ended without close")


async def serve(cfg):
    exts = None
    if cfg["deflate"] is not None:
        exts = [ServerPerMessageDeflateFactory(**cfg["deflate"])]
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            await run_script(ws, "server", cfg["steps"])
            done.set_result(None)
        except Exception as e:  # reported by the main coroutine
            done.set_exception(e)

    server = await websockets.serve(
        handler, cfg["host"], 0,
        extensions=exts, compression=None, ping_interval=None, max_size=None,
    )
    say("LISTENING", server.sockets[0].getsockname()[1])
    try:
        await asyncio.wait_for(done, 30)
    finally:
        server.close()
        await server.wait_closed()


async def connect(cfg):
    exts = None
    if cfg["deflate"] is not None:
        exts = [ClientPerMessageDeflateFactory(**cfg["deflate"])]
    ws = await websockets.connect(
        cfg["url"], extensions=exts, compression=None, ping_interval=None, max_size=None,
    )
    say("EXTENSIONS", ws.response_headers.get("Sec-WebSocket-Extensions", ""))
    await asyncio.wait_for(run_script(ws, "client", cfg["steps"]), 30)


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    say("VERSION", websockets.__version__)
    say("RUNTIME", f"{sys.implementation.name} {sys.version.split()[0]}")
    if cfg["role"] == "server":
        asyncio.run(serve(cfg))
    else:
        asyncio.run(connect(cfg))
    say("DONE")


if __name__ == "__main__":
    main()
