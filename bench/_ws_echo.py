"""The intake benchmark's ceiling: a bare websocket server that answers each message of N signals
with an ack of N results without reading them (no MAC check, no decision, no journal).

``python -m bench._ws_echo --port P`` serves it with uvicorn on 127.0.0.1, as the service is served.
"""

from __future__ import annotations

import argparse

import orjson


async def app(scope, receive, send) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    hello = {"type": "hello", "connection_id": "echo", "session_key": "00" * 32, "next_seq": 1}
    await send({"type": "websocket.send", "bytes": orjson.dumps(hello)})
    seq = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        seq += 1
        n = (message.get("bytes") or b"").count(b"\n")  # header line + n signals: n newlines
        results = b",".join([b'{"status":200,"answer":{"outcome":"echo"}}'] * n)
        await send(
            {"type": "websocket.send", "bytes": b'{"type":"ack","seq":%d,"results":[%s]}' % (seq, results)}
        )


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning", access_log=False)
