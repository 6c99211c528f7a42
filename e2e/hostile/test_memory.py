"""Bounded memory per socket: a subscribe that names one room a thousand times, a ping flood that is never read,
and a subscriber that stops reading while others send."""

import json
import subprocess
import time

from conftest import LIMITS, MiB, RSS_GROWTH, Peak, fill, group, register
from wire import CLOSE, PING, PONG, TEXT, Closed, Ended, WebSocket, frame

SMALL_WINDOW = 8192


def test_a_subscribe_naming_one_room_a_thousand_times_replays_it_once(node):
    owner = register(node, "dup")
    helpers = [register(node, "duph") for _ in range(3)]
    room = group(node, owner, helpers)
    messages = 300
    fill(node, room, [owner, *helpers], messages, "a message of a hundred characters " * 3)
    with WebSocket.open(node.port, owner["access"]) as ws:
        peak = Peak(node)
        # The lowest since is 0, so the one replay holds every message.
        ws.send({"id": "sub", "type": "subscribe", "rooms": [{"room": room, "since": index * 7 % 50} for index in range(1000)]})
        seqs, done, reply = [], 0, None
        deadline = time.monotonic() + 60
        while reply is None and time.monotonic() < deadline and len(seqs) <= 2 * messages and done <= 1:
            event = ws.next(timeout=max(0.0, deadline - time.monotonic()))
            if event.get("type") == "message.created" and event.get("room") == room:
                seqs.append(event["seq"])
            elif event.get("type") == "replay.done" and event.get("room") == room:
                done += 1
            elif event.get("re") == "sub":
                reply = event
    assert seqs == list(range(1, messages + 1)), (
        f"{len(seqs)} message.created frames for {messages} messages, {len(seqs) - len(set(seqs))} of them repeats")
    assert done == 1, f"{done} replay.done frames"
    assert reply is not None and reply.get("ok") is True, reply
    assert peak.growth < RSS_GROWTH, f"the node grew by {peak.growth / MiB:.0f} MiB during the subscribe"


def test_a_ping_flood_that_is_never_read_is_cut_off(node):
    user = register(node, "pinger")
    ws = WebSocket.open(node.port, user["access"], rcvbuf=SMALL_WINDOW)
    peak = Peak(node)
    ping = frame(PING, b"p" * 125, key=b"\x01\x02\x03\x04")
    chunk, sent, cut_off = ping * 1000, 0, False
    budget, started = 32 * MiB, time.monotonic()
    ws.sock.settimeout(5)
    try:
        while sent < budget and time.monotonic() - started < 30:
            ws.sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        # Reset or stalled: the node stopped taking the flood.
        cut_off = True
    # Now read what came back: pongs, then the node's error frame and close, or the end of the connection.
    pongs, errors, code, ended = 0, [], None, False
    deadline = time.monotonic() + 10
    ws.auto_pong = False
    try:
        while time.monotonic() < deadline:
            _, _, opcode, payload = ws.read_frame(timeout=max(0.0, deadline - time.monotonic()))
            if opcode == PONG:
                pongs += 1
            elif opcode == TEXT and json.loads(payload).get("type") == "error":
                errors.append(json.loads(payload)["error"]["code"])
            elif opcode == CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                ended = ws.ends_within(6)
                break
    except Ended:
        ended = True
    except TimeoutError:
        pass
    finally:
        ws.close()
    sent_pings = sent // len(ping)
    assert ended, f"{sent_pings} pings ({sent / MiB:.0f} MiB) later the socket was still open ({pongs} pongs read)"
    assert code in (None, 1008, 4008), f"closed with {code}"
    if code == 1008:
        assert "rate_limited" in errors, f"1008 without a rate_limited error frame before it: {errors}"
    assert cut_off or code is not None, "the socket ended without a close frame, after the whole flood was taken"
    assert pongs < 10_000, f"the node answered {pongs} of {sent_pings} pings"
    assert peak.growth < RSS_GROWTH, f"the node grew by {peak.growth / MiB:.0f} MiB during the flood"


def kernel_send_buffer():
    """The most a TCP socket's send buffer may grow to (tcp_wmem's maximum): what the node's kernel can hold for a
    reader that does not read, before the node itself queues anything."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as file:
        return int(file.read().split()[2])


def queued_in_kernel(node, client_port):
    """The bytes the node's side of a connection holds unsent (Send-Q)."""
    output = subprocess.run(["ss", "-Htn", f"( sport = :{node.port} and dport = :{client_port} )"], capture_output=True,
                            text=True).stdout.split()
    return int(output[2]) if len(output) > 2 else None


def test_a_subscriber_that_never_reads_is_closed_with_4008(node):
    reader = register(node, "slow")
    senders = [register(node, "fast") for _ in range(6)]
    room = group(node, senders[0], [reader, *senders[1:]])
    ws = WebSocket.open(node.port, reader["access"], rcvbuf=SMALL_WINDOW)
    assert ws.request({"type": "subscribe", "rooms": [{"room": room, "since": 0}]})["ok"] is True
    peak = Peak(node)
    # Messages of 4000 characters, enough to fill the kernel's buffers and then the socket's budget four times over.
    size = 4000
    messages = min(3000, (kernel_send_buffer() + 4 * int(LIMITS["PARLEY_SOCKET_BUFFER_BYTES"])) // size + 100)
    fill(node, room, senders, messages, "x" * size)
    in_kernel = queued_in_kernel(node, ws.sock.getsockname()[1])
    delivered, code = 0, None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            event = ws.next(timeout=max(0.0, deadline - time.monotonic()))
            delivered += event.get("type") == "message.created"
    except Closed as closed:
        code = closed.code
    except (Ended, TimeoutError):
        pass
    finally:
        ws.close()
    assert code == 4008, (f"not closed with 4008 (close code {code}): {delivered} of {messages} messages read, "
                          f"{in_kernel} bytes of them waited in the node's kernel send buffer")
    assert delivered < messages
    assert peak.growth < RSS_GROWTH, f"the node grew by {peak.growth / MiB:.0f} MiB"
