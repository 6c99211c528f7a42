"""Connections and deadlines: connections closed half-way, slowloris heads and bodies, idle keep-alives, and more
connections or sockets than one address or one user may hold."""

import subprocess
import threading
import time

import pytest

from conftest import LIMITS, register
from wire import Refused, WebSocket, closed_within, connect, parse_response, read_response, upgrade_head

HEAD_TIMEOUT = int(LIMITS["PARLEY_HEAD_TIMEOUT"])
BODY_TIMEOUT = int(LIMITS["PARLEY_BODY_TIMEOUT"])
IDLE_TIMEOUT = int(LIMITS["PARLEY_IDLE_TIMEOUT"])
PER_ADDRESS = int(LIMITS["PARLEY_MAX_CONNECTIONS_PER_ADDRESS"])
PER_USER = int(LIMITS["PARLEY_MAX_SOCKETS_PER_USER"])
SLACK = 2


def close_wait(port):
    """The node's connections (local port `port`) that the client closed and the node did not."""
    output = subprocess.run(["ss", "-Htan", "state", "close-wait", f"( sport = :{port} )"], capture_output=True, text=True,
                            check=True).stdout
    return [line for line in output.splitlines() if line.strip()]


def test_connections_closed_half_way_leave_nothing_open(node):
    loops, started = 3000, time.monotonic()
    files_before = node.open_files()
    for index in range(loops):
        assert time.monotonic() - started < 90, f"only {index} loops in 90 s"
        with connect(node.port, source="127.0.0.2") as sock:
            if index % 3 == 1:
                sock.sendall(b"GET /heal")
            elif index % 3 == 2:
                sock.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    deadline = time.monotonic() + 3
    while close_wait(node.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    lingering = close_wait(node.port)
    assert not lingering, f"{len(lingering)} of the node's connections are in CLOSE-WAIT after {loops} loops"
    assert node.healthy(timeout=1.0), "/healthz did not answer after the loops"
    assert node.open_files() < files_before + 50, f"the node holds {node.open_files()} descriptors, {files_before} before"


def request_head_cases(port):
    return {
        "nothing at all": b"",
        "half a request line": b"GET /healthz HT",
        "half a WebSocket upgrade head": upgrade_head(port, token="x")[:-30],
    }


@pytest.mark.parametrize("case", ["nothing at all", "half a request line", "half a WebSocket upgrade head"])
def test_a_request_head_that_never_ends_is_timed_out(node, case):
    with connect(node.port, source="127.0.0.3") as sock:
        sock.sendall(request_head_cases(node.port)[case])
        taken, received = closed_within(sock, HEAD_TIMEOUT + SLACK + 3)
    assert taken is not None, f"still open {HEAD_TIMEOUT + SLACK + 3} s after {case}"
    assert taken <= HEAD_TIMEOUT + SLACK, f"closed only after {taken:.1f} s"
    response = parse_response(received)
    assert response is not None, f"closed without the 408: {received!r}"
    status, headers, body = response
    assert status == 408 and b'"timeout"' in body, received
    assert headers.get("connection", "").lower() == "close", headers


def test_a_body_trickled_byte_by_byte_is_cut_off(node):
    head = (b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400\r\n\r\n{")
    with connect(node.port, source="127.0.0.3") as sock:
        sock.sendall(head)
        started = time.monotonic()
        taken = None
        while time.monotonic() - started < BODY_TIMEOUT + SLACK + 3:
            try:
                sock.sendall(b" ")
            except OSError:
                taken = time.monotonic() - started
                break
            gone, _ = closed_within(sock, 0.25)
            if gone is not None:
                taken = time.monotonic() - started
                break
    assert taken is not None, f"a body still trickling after {BODY_TIMEOUT + SLACK + 3} s was not cut off"
    assert taken <= BODY_TIMEOUT + SLACK, f"cut off only after {taken:.1f} s"


def test_an_idle_keep_alive_connection_is_closed(node):
    with connect(node.port, source="127.0.0.3") as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock)[0] == 200
        taken, _ = closed_within(sock, IDLE_TIMEOUT + SLACK + 3)
    assert taken is not None, f"an idle keep-alive connection was still open after {IDLE_TIMEOUT + SLACK + 3} s"
    assert taken <= IDLE_TIMEOUT + SLACK, f"closed only after {taken:.1f} s"


def test_an_idle_websocket_outlives_the_http_deadlines(node):
    """The head, body and idle deadlines are HTTP's: an open socket that says nothing is the heartbeat's to judge."""
    user = register(node, "idle")
    with WebSocket.open(node.port, user["access"]) as ws:
        time.sleep(max(HEAD_TIMEOUT, BODY_TIMEOUT, IDLE_TIMEOUT) + SLACK)
        assert ws.request({"type": "ping"}, timeout=5)["ok"] is True


def test_one_address_holds_at_most_its_connections(node):
    extra, source = 6, "127.0.0.4"
    healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sockets = []
    try:
        for _ in range(PER_ADDRESS + extra):
            sockets.append(connect(node.port, source=source))
            sockets[-1].sendall(healthz)
        responses = [read_response(sock) for sock in sockets]
        statuses = [response and response[0] for response in responses]
        assert statuses.count(200) == PER_ADDRESS and statuses.count(429) == extra, statuses
        for status, headers, body in responses:
            if status == 429:
                assert headers.get("content-type", "").startswith("application/json") and b'"rate_limited"' in body, body
                assert headers.get("retry-after") == "1", headers
    finally:
        for sock in sockets:
            sock.close()
    # Closed connections no longer count.
    deadline = time.monotonic() + 3
    while True:
        with connect(node.port, source=source) as sock:
            sock.sendall(healthz)
            response = read_response(sock)
        if response and response[0] == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response and response[0] == 200, f"still refused 3 s after the connections closed: {response}"


def test_one_user_holds_at_most_their_sockets(node):
    user = register(node, "many")
    sockets = []
    try:
        for _ in range(PER_USER):
            sockets.append(WebSocket.open(node.port, user["access"]))
        for _ in range(2):
            with pytest.raises(Refused) as refused:
                sockets.append(WebSocket.open(node.port, user["access"]))
            reply = refused.value.reply
            assert reply.status == 429 and reply.code == "rate_limited", reply
        # A socket that closes makes room for another.
        sockets.pop(0).close()
        deadline = time.monotonic() + 3
        while True:
            try:
                sockets.append(WebSocket.open(node.port, user["access"]))
                break
            except Refused:
                assert time.monotonic() < deadline, "a closed socket still counted 3 s later"
                time.sleep(0.2)
    finally:
        for ws in sockets:
            ws.close()


def test_upgrades_sent_at_once_are_held_to_the_cap_too(node):
    user = register(node, "burst")
    opened, refused = [], []

    def open_one():
        try:
            opened.append(WebSocket.open(node.port, user["access"]))
        except Refused as error:
            refused.append(error.reply.status)

    threads = [threading.Thread(target=open_one) for _ in range(4 * PER_USER)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert len(opened) == PER_USER, f"{len(opened)} sockets opened at once, where {PER_USER} are allowed"
        assert refused and set(refused) == {429}, refused
    finally:
        for ws in opened:
            ws.close()
