"""Clean input: control characters, bidi overrides, invisible-only strings and runs of combining marks are refused
with invalid_field wherever strings enter, over REST and WebSocket alike; text and names are stored NFC; names take
real emoji. REST bodies are JSON, strictly."""

import json
import uuid

import pytest

from conftest import group, register, unique
from wire import WebSocket, call

REFUSED_TEXT = {
    "U+0000": "I owe you $100\u0000 - just kidding",
    "a bell (U+0007)": "ring\u0007",
    "a carriage return": "line\rover",
    "DEL": "rub\u007fout",
    "a C1 control (U+0085)": "next\u0085line",
    "a right-to-left override": "invoice_\u202Efdp.exe",
    "a left-to-right isolate": "a\u2066b\u2069",
    "only zero-width spaces": "\u200B\u200B\u200B",
    "only word joiners and a BOM": "\u2060\uFEFF",
    "only a Hangul filler": "\u3164",
    "9 combining marks in a row": "x" + "\u0301" * 9,
    "20000 combining marks on one character": "e" + "\u0301" * 20000,
}

ACCEPTED_TEXT = {
    "tab and newline": ("a\tb\nc", "a\tb\nc"),
    "8 combining marks in a row": ("x" + "\u0301" * 8, "x" + "\u0301" * 8),
    "a decomposed e-acute, stored NFC": ("caf" + "e\u0301", "caf\u00e9"),
    "a ZWJ emoji": ("\U0001F469\u200D\U0001F4BB", "\U0001F469\u200D\U0001F4BB"),
}

REFUSED_NAMES = {
    "a control character": "Bob\u0007",
    "U+0000": "Bob\u0000by",
    "a right-to-left override": "\u202Eevil",
    "only a Hangul filler": "\u3164",
    "only zero-width spaces": "\u200B\u200B",
    "a run of combining marks": "A" + "\u0300" * 30,
}


@pytest.fixture(scope="module")
def room(server):
    owner = register(server, "clean")
    return owner, group(server, owner, [])


def post(node, user, room, text):
    return call(node.port, "POST", f"/api/rooms/{room}/messages", {"clientId": str(uuid.uuid4()), "text": text},
                token=user["access"])


@pytest.mark.parametrize("case", REFUSED_TEXT)
def test_rest_refuses_bad_text(node, room, case):
    owner, room_id = room
    reply = post(node, owner, room_id, REFUSED_TEXT[case])
    assert (reply.status, reply.code) == (400, "invalid_field"), reply


@pytest.mark.parametrize("case", ACCEPTED_TEXT)
def test_rest_takes_good_text_and_stores_it_nfc(node, room, case):
    owner, room_id = room
    text, stored = ACCEPTED_TEXT[case]
    reply = post(node, owner, room_id, text)
    assert reply.status == 201, reply
    assert reply.json["text"] == stored
    history = call(node.port, "GET", f"/api/rooms/{room_id}/messages?after={reply.json['seq'] - 1}&limit=1",
                   token=owner["access"])
    assert [message["text"] for message in history.json] == [stored]


def answer(ws, frame, timeout=5.0):
    """What the node sends back to a frame with an id: its reply, or the first error frame (which should carry
    `re` too, but may not)."""
    frame = {"id": uuid.uuid4().hex[:8], **frame}
    ws.send(frame)
    return frame["id"], ws.until(lambda reply: reply.get("re") == frame["id"] or reply.get("type") == "error", timeout)


def test_websocket_refuses_bad_text_with_an_error_frame(node, room):
    owner, room_id = room
    frames = {f"send: {case}": {"type": "send", "room": room_id, "clientId": str(uuid.uuid4()), "text": text}
              for case, text in REFUSED_TEXT.items()}
    frames["subscribe: a room id with U+0000"] = {"type": "subscribe", "rooms": [{"room": room_id + "\u0000", "since": 0}]}
    wrong = {}
    with WebSocket.open(node.port, owner["access"]) as ws:
        for case, frame in frames.items():
            sent, reply = answer(ws, frame)
            if reply.get("type") != "error" or reply["error"]["code"] != "invalid_field" or reply.get("re") != sent:
                wrong[case] = reply
        _, reply = answer(ws, {"type": "send", "room": room_id, "clientId": str(uuid.uuid4()), "text": "e\u0301"})
        assert reply.get("ok") is True and reply["message"]["text"] == "\u00e9", reply
    assert not wrong, f"not an error frame with invalid_field and re set: {wrong}"


@pytest.mark.parametrize("case", REFUSED_NAMES)
def test_bad_names_are_refused(node, room, case):
    owner, _ = room
    registered = call(node.port, "POST", "/api/auth/register",
                      {"username": unique("name"), "password": "correct horse", "name": REFUSED_NAMES[case]})
    assert (registered.status, registered.code) == (400, "invalid_field"), registered
    created = call(node.port, "POST", "/api/rooms", {"name": REFUSED_NAMES[case]}, token=owner["access"])
    assert (created.status, created.code) == (400, "invalid_field"), created


@pytest.mark.parametrize("name", ["Ada \U0001F469\u200D\U0001F4BB", "\U0001F468\u200D\U0001F469\u200D\U0001F467 family"])
def test_names_take_real_emoji(node, name):
    assert register(node, "emoji", name=name)["name"] == name


def test_names_are_stored_nfc(node):
    assert register(node, "nfc", name="Rene\u0301")["name"] == "Ren\u00e9"


def test_credentials_and_queries_refuse_control_characters(node, room):
    owner, _ = room
    source = "127.0.0.11"
    answers = {
        "a password of 8 NULs, registering": call(node.port, "POST", "/api/auth/register",
                                                  {"username": unique("nul"), "password": "\u0000" * 8, "name": "Nul"}),
        "a password of 8 NULs, logging in": call(node.port, "POST", "/api/auth/login",
                                                 {"username": owner["username"], "password": "\u0000" * 8}, source=source),
        "a username with U+0000, logging in": call(node.port, "POST", "/api/auth/login",
                                                   {"username": owner["username"] + "\u0000", "password": owner["password"]},
                                                   source=source),
        "a username with U+0000, registering": call(node.port, "POST", "/api/auth/register",
                                                    {"username": "nul\u0000" + unique(""), "password": "correct horse",
                                                     "name": "Nul"}),
        "q=%00": call(node.port, "GET", "/api/users?q=%00", token=owner["access"]),
        "q=a%00": call(node.port, "GET", "/api/users?q=a%00", token=owner["access"]),
        "a contact's username with U+0000": call(node.port, "POST", "/api/contacts", {"username": "bob\u0000"},
                                                 token=owner["access"]),
    }
    wrong = {case: reply for case, reply in answers.items() if (reply.status, reply.code) != (400, "invalid_field")}
    assert not wrong, wrong


LOGIN = json.dumps({"username": "nobody-here", "password": "wrong password"}).encode()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None])
def test_rest_bodies_must_be_json(node, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = call(node.port, "POST", "/api/auth/login", raw=LOGIN, content_type=None, headers=headers, source="127.0.0.10")
    assert (reply.status, reply.code) == (415, "unsupported_media_type"), reply


def test_json_with_a_charset_is_json(node):
    reply = call(node.port, "POST", "/api/auth/login", raw=LOGIN, content_type="application/json; charset=utf-8",
                 source="127.0.0.10")
    assert (reply.status, reply.code) == (401, "unauthorized"), reply


@pytest.mark.parametrize("body", [
    b"\xef\xbb\xbf" + LOGIN,
    b'{"username": "nobody-here", "password": "wrong password",}',
    b'{"username": "nobody-here", "password": "wrong password"} trailing',
], ids=["a byte-order mark", "a trailing comma", "bytes after the JSON"])
def test_rest_parses_json_strictly(node, body):
    reply = call(node.port, "POST", "/api/auth/login", raw=body, source="127.0.0.10")
    assert (reply.status, reply.code) == (400, "bad_request"), reply
