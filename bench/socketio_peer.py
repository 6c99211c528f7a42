"""The peer Parley is measured against: python-socketio's AsyncServer with AsyncRedisManager (the socket.io
Redis-adapter design), one instance per process; run two on one Redis for a cross-node load.

    python socketio_peer.py --port 9001 --redis redis://127.0.0.1:6379

The events mirror what `parley-bench` asks of Parley, so that the same load shape drives both:
- `join` ROOM: the socket enters the room (Parley: subscribe); acknowledged.
- `send` {room, text}: `message` with the text to everyone in the room, on every instance, through Redis
  (Parley: send to a room); acknowledged.
- `signal` {to, payload}: `signal` with the payload to one socket, wherever it is (Parley: signal).
"""

import argparse
import logging

import socketio
from aiohttp import web


def make_app(redis_url: str) -> web.Application:
    manager = socketio.AsyncRedisManager(redis_url)
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, logger=False, engineio_logger=False)

    @sio.event
    async def join(sid, room):
        await sio.enter_room(sid, room)
        return "ok"

    @sio.event
    async def send(sid, data):
        await sio.emit("message", data["text"], room=data["room"])
        return "ok"

    @sio.event
    async def signal(sid, data):
        await sio.emit("signal", data["payload"], to=data["to"])

    app = web.Application()
    sio.attach(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(make_app(args.redis), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
