"""RFC 6455 at the frame layer, and the security headers on every kind of response."""

import json

import pytest

from conftest import register
from wire import CLOSE, PING, TEXT, Refused, WebSocket, call, close_payload, frame

PING_FRAME = json.dumps({"type": "ping"})

BROKEN_FRAMES = {
    "RSV1 set, no extension negotiated": (frame(TEXT, PING_FRAME, rsv=4), 1002),
    "RSV3 set on a ping": (frame(PING, b"", rsv=1), 1002),
    "an unmasked client frame": (frame(TEXT, PING_FRAME, mask=False), 1002),
    "reserved opcode 3": (frame(0x3, b"data"), 1002),
    "reserved opcode 0xB": (frame(0xB, b""), 1002),
    "close code 999": (frame(CLOSE, close_payload(999)), 1002),
    "close code 1005": (frame(CLOSE, close_payload(1005)), 1002),
    "close code 5000": (frame(CLOSE, close_payload(5000)), 1002),
    "a 1-byte close payload": (frame(CLOSE, b"\x03"), 1002),
    "a close reason that is not UTF-8": (frame(CLOSE, close_payload(1000, b"\xff\xfe")), 1007),
}


@pytest.fixture(scope="module")
def user(server):
    return register(server, "framer")


@pytest.mark.parametrize("case", BROKEN_FRAMES)
def test_a_broken_frame_fails_the_connection(node, user, case):
    data, expected = BROKEN_FRAMES[case]
    with WebSocket.open(node.port, user["access"]) as ws:
        ws.send_raw(data)
        code = ws.close_code(timeout=5)
        assert code == expected, f"closed with {code}, not {expected}"
        assert ws.ends_within(6), "the TCP connection stayed open after the close frame"


def test_a_valid_close_is_echoed(node, user):
    with WebSocket.open(node.port, user["access"]) as ws:
        ws.send_raw(frame(CLOSE, close_payload(4000, "bye".encode())))
        assert ws.close_code(timeout=5) == 4000
        assert ws.ends_within(6)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def refused_upgrade(node):
    with pytest.raises(Refused) as refused:
        WebSocket.open(node.port, None).close()
    return refused.value.reply


@pytest.mark.parametrize("case", ["the web client", "/api/me without a token", "/healthz", "a refused upgrade"])
def test_every_response_carries_the_security_headers(node, case):
    if case == "the web client":
        reply = call(node.port, "GET", "/")
        assert reply.status == 200 and b"<html" in reply.body.lower()
    elif case == "/api/me without a token":
        reply = call(node.port, "GET", "/api/me")
        assert reply.status == 401
    elif case == "/healthz":
        reply = call(node.port, "GET", "/healthz")
        assert reply.status == 200
    else:
        reply = refused_upgrade(node)
        assert reply.status == 401
    headers = reply.headers
    assert headers.get("content-security-policy") == CSP, headers
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", "")
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("referrer-policy") == "no-referrer", headers
    assert headers.get("x-frame-options") == "DENY", headers
