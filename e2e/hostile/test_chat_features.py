"""Replies, edits, reactions, mentions, search, calls in the timeline and shared read marks, attacked as a hostile
client would: other people's rooms and messages, deleted messages and call entries, what is no emoji, search syntax
of either database and pages out of range, the search throttle, mention storms, and malformed `edit` and `react`
frames. Every refusal is a JSON error with a stable code, never a 500, and nothing of a room the caller is not in,
nor of a deleted message, shows anywhere."""

import json
import shutil
import tempfile
import time
import urllib.parse
import uuid

import pytest

from conftest import Node, fill, group, login, register, send
from wire import TEXT, Closed, Ended, WebSocket, call, frame

DEADLINE = 60


def deadline():
    return time.monotonic() + DEADLINE


def no_500(reply):
    assert reply.status < 500, reply
    if reply.status >= 400:
        assert reply.code, f"an error without a JSON code: {reply!r}"


def rest(node, method, path, body=None, token=None):
    """One REST call; a 429 of the send throttle (which sends, edits and reactions share, 40 a second per user) waits
    for its Retry-After and tries again: no test here is about that throttle."""
    until = deadline()
    while True:
        reply = call(node.port, method, path, body, token=token)
        if reply.status != 429 or time.monotonic() > until:
            return reply
        time.sleep(min(float(reply.headers.get("retry-after", "1")), 2.0))


def post(node, user, room, text, **extra):
    return rest(node, "POST", f"/api/rooms/{room}/messages", {"clientId": str(uuid.uuid4()), "text": text, **extra},
                token=user["access"])


def history(node, user, room):
    reply = call(node.port, "GET", f"/api/rooms/{room}/messages?after=0&limit=200", token=user["access"])
    assert reply.status == 200, reply
    return {message["seq"]: message for message in reply.json}


def search(node, user, query, **parameters):
    return call(node.port, "GET", "/api/search?" + urllib.parse.urlencode({"q": query, **parameters}), token=user["access"])


def react(node, user, room, seq, emoji):
    return rest(node, "POST", f"/api/rooms/{room}/messages/{seq}/reactions", {"emoji": emoji}, token=user["access"])


def unreact(node, user, room, seq, emoji):
    return rest(node, "DELETE", f"/api/rooms/{room}/messages/{seq}/reactions/{urllib.parse.quote(emoji, safe='')}",
                token=user["access"])


def edit(node, user, room, seq, text):
    return rest(node, "PATCH", f"/api/rooms/{room}/messages/{seq}", {"text": text}, token=user["access"])


def answer(ws, value, timeout=5.0):
    """The node's answer to a frame with an id: its reply, or the first error frame (which should carry `re`, but
    does not for a frame the node could not read)."""
    value = {"id": uuid.uuid4().hex[:8], **value}
    ws.send(value)
    return value["id"], ws.until(lambda reply: reply.get("re") == value["id"] or reply.get("type") == "error", timeout)


def answer_raw(ws, text, timeout=5.0):
    ident = uuid.uuid4().hex[:8]
    ws.send_raw(frame(TEXT, text.replace("ID", ident).encode()))
    return ident, ws.until(lambda reply: reply.get("re") == ident or reply.get("type") == "error", timeout)


def error_code(reply):
    assert reply.get("type") == "error" and reply.get("ok") is False, reply
    return reply["error"]["code"]


def heard(ws, predicate, seconds=1.5):
    """Every frame that `predicate` accepts within `seconds`, after a ping has come back (so that what was published
    before the ping had its chance to arrive)."""
    found = []
    ident = uuid.uuid4().hex[:8]
    ws.send({"id": ident, "type": "ping"})
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            value = ws.next(max(0.05, end - time.monotonic()))
        except TimeoutError:
            break
        if predicate(value):
            found.append(value)
    return found


@pytest.fixture(scope="module")
def world(server):
    """Alice owns a group with Bob; Carol, an outsider, has a room of her own with more messages than Alice's, so that
    seqs exist there that do not exist in Alice's room."""
    alice, bob, carol = register(server, "alice"), register(server, "bob"), register(server, "carol")
    # Members who do the many searches, so that no one of them reaches the search throttle (60 a minute).
    readers = [register(server, "reader") for _ in range(4)]
    room = group(server, alice, [bob] + readers, name="ours")
    small = group(server, alice, [bob], name="small")
    theirs = group(server, carol, [], name="carol's")
    until = deadline()
    for index in range(12):
        send(server, carol, theirs, f"kumquat confidential number {index}", until)
    first = send(server, alice, room, "lunch at noon pomegranate", until)
    send(server, alice, small, "only two", until)
    send(server, bob, small, "messages here", until)
    return {"alice": alice, "bob": bob, "carol": carol, "readers": readers, "room": room, "small": small, "theirs": theirs,
            "first": first}


# Other people's rooms and messages.

def test_rest_calls_on_a_room_you_are_not_in_answer_404_and_change_nothing(node, world):
    alice, carol, theirs = world["alice"], world["carol"], world["theirs"]
    before = history(node, carol, theirs)[1]
    answers = {
        "edit": edit(node, alice, theirs, 1, "pwned"),
        "react": react(node, alice, theirs, 1, "\U0001F44D"),
        "unreact": unreact(node, alice, theirs, 1, "\U0001F44D"),
        "reply": post(node, alice, theirs, "hi", replyTo=1),
        "search in it": search(node, alice, "kumquat", room=theirs),
        "read it": call(node.port, "POST", f"/api/rooms/{theirs}/read", {"seq": 1}, token=alice["access"]),
        "edit in no room": edit(node, alice, "r_doesnotexist", 1, "pwned"),
        "react in no room": react(node, alice, "r_doesnotexist", 1, "\U0001F44D"),
        "search in no room": search(node, alice, "kumquat", room="r_doesnotexist"),
    }
    assert {name: (reply.status, reply.code) for name, reply in answers.items()} == dict.fromkeys(
        answers, (404, "not_found")), answers
    after = history(node, carol, theirs)[1]
    assert after == before and "reactions" not in after and "editedAt" not in after


def test_search_never_finds_what_is_in_rooms_you_are_not_in(node, world):
    reply = search(node, world["alice"], "kumquat")
    assert reply.status == 200, reply
    assert reply.json == {"messages": [], "next": None}
    mine = search(node, world["carol"], "kumquat", limit=5)
    assert mine.status == 200 and len(mine.json["messages"]) == 5 and mine.json["next"] == 5, mine


def test_socket_edit_and_react_in_a_room_you_are_not_in_are_not_found(node, world):
    with WebSocket.open(node.port, world["alice"]["access"]) as ws:
        for value in ({"type": "edit", "room": world["theirs"], "seq": 1, "text": "pwned"},
                      {"type": "react", "room": world["theirs"], "seq": 1, "emoji": "\U0001F44D"},
                      {"type": "react", "room": world["theirs"], "seq": 1, "emoji": "\U0001F44D", "remove": True},
                      {"type": "send", "room": world["theirs"], "clientId": str(uuid.uuid4()), "text": "x", "replyTo": 1}):
            ident, reply = answer(ws, value)
            assert reply.get("re") == ident and error_code(reply) == "not_found", (value, reply)
    assert history(node, world["carol"], world["theirs"])[1]["text"] == "kumquat confidential number 0"


def test_only_the_sender_edits(node, world):
    seq = world["first"]["seq"]
    reply = edit(node, world["bob"], world["room"], seq, "Bob was here")
    assert (reply.status, reply.code) == (403, "forbidden"), reply
    with WebSocket.open(node.port, world["bob"]["access"]) as ws:
        ident, refused = answer(ws, {"type": "edit", "room": world["room"], "seq": seq, "text": "Bob was here"})
        assert refused.get("re") == ident and error_code(refused) == "forbidden", refused
    assert history(node, world["alice"], world["room"])[seq]["text"] == "lunch at noon pomegranate"


def test_a_deleted_message_is_not_edited_back_to_life_nor_found(node, world):
    alice, room = world["alice"], world["room"]
    sent = post(node, alice, room, "the vault code is marzipan")
    assert sent.status == 201, sent
    seq = sent.json["seq"]
    assert call(node.port, "DELETE", f"/api/rooms/{room}/messages/{seq}", token=alice["access"]).status == 200
    reply = edit(node, alice, room, seq, "resurrected quince")
    assert (reply.status, reply.code) == (400, "invalid_field"), reply
    with WebSocket.open(node.port, alice["access"]) as ws:
        ident, refused = answer(ws, {"type": "edit", "room": room, "seq": seq, "text": "resurrected quince"})
        assert refused.get("re") == ident and error_code(refused) == "invalid_field", refused
    shown = history(node, alice, room)[seq]
    assert shown["text"] is None and shown.get("deletedAt") and "editedAt" not in shown
    for word in ("marzipan", "resurrected", "quince"):
        found = search(node, alice, word)
        assert found.status == 200 and found.json["messages"] == [], (word, found)
    reacted = react(node, world["bob"], room, seq, "\U0001F44D")
    assert (reacted.status, reacted.code) == (400, "invalid_field"), reacted


def test_an_edit_is_found_by_its_new_words_only(node, world):
    alice, room = world["alice"], world["room"]
    sent = post(node, alice, room, "apricot original wording")
    seq = sent.json["seq"]
    changed = edit(node, alice, room, seq, "nectarine replacement wording")
    assert changed.status == 200 and changed.json["text"] == "nectarine replacement wording" and changed.json["editedAt"]
    assert search(node, alice, "apricot").json["messages"] == []
    assert [m["seq"] for m in search(node, alice, "nectarine", room=room).json["messages"]] == [seq]


def test_call_entries_are_not_edited_and_a_deleted_one_shows_nothing_of_its_call(node, world):
    alice, bob, room = world["alice"], world["bob"], world["room"]
    started = call(node.port, "POST", f"/api/rooms/{room}/meetings", {}, token=alice["access"])
    assert started.status == 201, started
    ended = call(node.port, "POST", f"/api/meetings/{started.json['id']}/end", {}, token=alice["access"])
    assert ended.status == 200, ended
    entries = [m for m in history(node, alice, room).values() if (m.get("call") or {}).get("meeting") == started.json["id"]]
    assert [entry["call"]["outcome"] for entry in entries] == ["started", "cancelled"], entries
    for entry in entries:
        assert entry["text"] is None and entry["sender"] == alice["id"]
        reply = edit(node, alice, room, entry["seq"], "I never called")
        assert (reply.status, reply.code) == (403, "forbidden"), reply
        assert edit(node, bob, room, entry["seq"], "x").status == 403
    shown = history(node, alice, room)
    assert all(shown[entry["seq"]]["text"] is None for entry in entries)
    # The entries take their seqs as sends do: none is skipped.
    assert sorted(shown) == list(range(1, max(shown) + 1))


# Replies.

def test_a_reply_quotes_nothing_of_a_message_deleted_after_it(node, world):
    alice, bob, room = world["alice"], world["bob"], world["room"]
    secret = post(node, bob, room, "my password is rhubarbcrumble")
    assert secret.status == 201
    reply = post(node, alice, room, "you should not share that", replyTo=secret.json["seq"])
    assert reply.status == 201 and reply.json["quoted"] == {"sender": bob["id"], "snippet": "my password is rhubarbcrumble"}
    assert call(node.port, "DELETE", f"/api/rooms/{room}/messages/{secret.json['seq']}", token=bob["access"]).status == 200
    shown = history(node, alice, room)[reply.json["seq"]]
    assert shown["replyTo"] == secret.json["seq"] and shown["quoted"] == {"sender": bob["id"], "deleted": True}
    found = search(node, alice, "share", room=room)
    assert found.status == 200 and found.json["messages"], found
    assert search(node, alice, "rhubarbcrumble").json["messages"] == []
    # A socket's replay and the room list carry nothing of it either.
    with WebSocket.open(node.port, alice["access"]) as ws:
        ident = uuid.uuid4().hex[:8]
        ws.send({"id": ident, "type": "subscribe", "rooms": [{"room": room, "since": 0}]})
        frames = []
        while True:
            value = ws.next(10)
            frames.append(value)
            if value.get("re") == ident:
                break
    listed = call(node.port, "GET", "/api/rooms", token=alice["access"])
    for where, body in (("history", history(node, alice, room)), ("search", found.json), ("replay", frames),
                        ("rooms", listed.json)):
        assert "rhubarbcrumble" not in json.dumps(body, ensure_ascii=False), where


REFUSED_REPLY_TO = {
    "zero": (0, 400, "invalid_field"),
    "negative": (-1, 400, "invalid_field"),
    "the largest Int64": (2 ** 63 - 1, 400, "invalid_field"),
    "a seq that exists only in another room": (11, 400, "invalid_field"),
    "a string": ("1", 400, "bad_request"),
    "a boolean": (True, 400, "bad_request"),
    "a fraction": (1.5, 400, "bad_request"),
    "an object": ({"seq": 1}, 400, "bad_request"),
}


@pytest.mark.parametrize("case", REFUSED_REPLY_TO)
def test_rest_refuses_a_bad_reply_to(node, world, case):
    value, status, code = REFUSED_REPLY_TO[case]
    small = world["small"]
    last = max(history(node, world["alice"], small))
    assert last < 11, "the small room grew past the other room's seqs"
    reply = post(node, world["alice"], small, "hostile reply", replyTo=value)
    assert (reply.status, reply.code) == (status, code), reply
    assert max(history(node, world["alice"], small)) == last, "a refused reply took a seq"


def test_rest_refuses_a_reply_to_over_64_bits(node, world):
    raw = json.dumps({"clientId": str(uuid.uuid4()), "text": "x"})[:-1] + ', "replyTo": 18446744073709551616}'
    reply = call(node.port, "POST", f"/api/rooms/{world['small']}/messages", raw=raw.encode(), token=world["alice"]["access"])
    assert (reply.status, reply.code) == (400, "bad_request"), reply


@pytest.mark.parametrize("case", ["zero", "negative", "the largest Int64", "a seq that exists only in another room",
                                  "a string", "a boolean", "an object"])
def test_socket_refuses_a_bad_reply_to(node, world, case):
    value, _, code = REFUSED_REPLY_TO[case]
    with WebSocket.open(node.port, world["alice"]["access"]) as ws:
        ident, reply = answer(ws, {"type": "send", "room": world["small"], "clientId": str(uuid.uuid4()), "text": "x",
                                   "replyTo": value})
        assert error_code(reply) == code, reply
        if code == "invalid_field":
            assert reply.get("re") == ident, reply


def test_a_reply_to_a_deleted_message_is_refused(node, world):
    alice, room = world["alice"], world["room"]
    gone = post(node, alice, room, "soon gone")
    assert call(node.port, "DELETE", f"/api/rooms/{room}/messages/{gone.json['seq']}", token=alice["access"]).status == 200
    reply = post(node, world["bob"], room, "answering a ghost", replyTo=gone.json["seq"])
    assert (reply.status, reply.code) == (400, "invalid_field"), reply


# Reactions.

REFUSED_EMOJI = {
    "a letter": "a",
    "a digit": "1",
    "a hash sign": "#",
    "empty": "",
    "two emoji": "\U0001F44D\U0001F44D",
    "thirty emoji": "\U0001F44D" * 30,
    "a word": "thumbsup",
    "a copyright sign in text presentation": "\u00A9",
    "a control character": "\U0001F44D\u0000",
    "a bidi override": "\u202E\U0001F44D",
    "a lone variation selector 16 (invisible)": "\uFE0F",
    "a zero-width joiner and a variation selector (invisible)": "\u200D\uFE0F",
    "a lone zero-width joiner": "\u200D",
    "an emoji with twenty variation selectors": "\U0001F600" + "\uFE0F" * 20,
    "a digit made emoji by a variation selector, without its keycap": "1\uFE0F",
    "an emoji over 64 bytes": "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466" * 3,
}

ACCEPTED_EMOJI = {
    "thumbs up": "\U0001F44D",
    "with a skin tone": "\U0001F44D\U0001F3FD",
    "a flag": "\U0001F1EB\U0001F1F7",
    "a ZWJ family": "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466",
    "the rainbow flag": "\U0001F3F3\uFE0F\u200D\U0001F308",
    "Scotland's tag sequence": "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
    "a copyright sign in emoji presentation": "\u00A9\uFE0F",
    "a keycap": "1\uFE0F\u20E3",
    "the hash keycap": "#\uFE0F\u20E3",
}


@pytest.fixture
def fresh_message(node, world):
    sent = post(node, world["alice"], world["room"], "react to me")
    assert sent.status == 201, sent
    return sent.json["seq"]


@pytest.mark.parametrize("case", REFUSED_EMOJI)
def test_rest_refuses_what_is_not_one_visible_emoji(node, world, fresh_message, case):
    reply = react(node, world["bob"], world["room"], fresh_message, REFUSED_EMOJI[case])
    assert (reply.status, reply.code) == (400, "invalid_field"), reply
    assert "reactions" not in history(node, world["alice"], world["room"])[fresh_message]


@pytest.mark.parametrize("case", ["a letter", "two emoji", "a lone variation selector 16 (invisible)",
                                  "an emoji with twenty variation selectors", "a control character"])
def test_socket_refuses_what_is_not_one_visible_emoji(node, world, fresh_message, case):
    with WebSocket.open(node.port, world["bob"]["access"]) as ws:
        ident, reply = answer(ws, {"type": "react", "room": world["room"], "seq": fresh_message, "emoji": REFUSED_EMOJI[case]})
        assert reply.get("re") == ident and error_code(reply) == "invalid_field", reply
    assert "reactions" not in history(node, world["alice"], world["room"])[fresh_message]


@pytest.mark.parametrize("case", ACCEPTED_EMOJI)
def test_real_emoji_are_taken_once_and_taken_back(node, world, fresh_message, case):
    emoji, room, bob = ACCEPTED_EMOJI[case], world["room"], world["bob"]
    first = react(node, bob, room, fresh_message, emoji)
    assert first.status == 201, first
    again = react(node, bob, room, fresh_message, emoji)
    assert again.status == 200, again
    assert history(node, bob, room)[fresh_message]["reactions"] == [{"emoji": emoji, "count": 1, "users": [bob["id"]]}]
    assert unreact(node, bob, room, fresh_message, emoji).status == 204
    assert "reactions" not in history(node, bob, room)[fresh_message]


def test_a_message_holds_at_most_20_different_emoji(node, world, fresh_message):
    alice, bob, room = world["alice"], world["bob"], world["room"]
    emoji = [chr(0x1F600 + index) for index in range(21)]
    for index, one in enumerate(emoji[:20]):
        reply = react(node, alice if index % 2 else bob, room, fresh_message, one)
        assert reply.status == 201, (index, reply)
    over = react(node, alice, room, fresh_message, emoji[20])
    assert (over.status, over.code) == (400, "invalid_field"), over
    # One already there still takes anyone's.
    assert react(node, alice, room, fresh_message, emoji[0]).status == 201
    shown = history(node, alice, room)[fresh_message]["reactions"]
    assert [r["emoji"] for r in shown] == emoji[:20]
    assert shown[0]["count"] == 2 and shown[0]["users"] == [bob["id"], alice["id"]]


@pytest.mark.parametrize("path", ["%FF%FE", "x" * 3000, "%00", "..%2F..%2Fetc", "%F0%9F%91", "%25"])
def test_taking_back_garbage_is_harmless(node, world, fresh_message, path):
    reply = rest(node, "DELETE", f"/api/rooms/{world['room']}/messages/{fresh_message}/reactions/{path}",
                 token=world["bob"]["access"])
    no_500(reply)
    assert reply.status in (204, 400, 404, 414, 431), reply


def test_deleting_a_message_takes_its_reactions_with_it(node, world, fresh_message):
    alice, room = world["alice"], world["room"]
    assert react(node, world["bob"], room, fresh_message, "\U0001F44D").status == 201
    assert call(node.port, "DELETE", f"/api/rooms/{room}/messages/{fresh_message}", token=alice["access"]).status == 200
    assert "reactions" not in history(node, alice, room)[fresh_message]


# Malformed frames.

MALFORMED_FRAMES = {
    "edit without text": ({"type": "edit", "seq": 1}, "bad_request", True),
    "edit without seq": ({"type": "edit", "text": "x"}, "bad_request", True),
    "edit without room": ({"type": "edit", "seq": 1, "text": "x", "room": None}, "bad_request", True),
    "edit with a string seq": ({"type": "edit", "seq": "1", "text": "x"}, "bad_request", False),
    "edit with a numeric text": ({"type": "edit", "seq": 1, "text": 5}, "bad_request", False),
    "edit with a fractional seq": ({"type": "edit", "seq": 1.5, "text": "x"}, "bad_request", False),
    "edit with a room list": ({"type": "edit", "seq": 1, "text": "x", "room": ["r"]}, "bad_request", False),
    "edit with a blank text": ({"type": "edit", "seq": 1, "text": "   "}, "invalid_field", True),
    "edit with 4001 characters": ({"type": "edit", "seq": 1, "text": "x" * 4001}, "invalid_field", True),
    "edit with a control character": ({"type": "edit", "seq": 1, "text": "x\u0007"}, "invalid_field", True),
    "edit of seq 0": ({"type": "edit", "seq": 0, "text": "x"}, "not_found", True),
    "edit of a negative seq": ({"type": "edit", "seq": -5, "text": "x"}, "not_found", True),
    "edit of the largest seq": ({"type": "edit", "seq": 2 ** 63 - 1, "text": "x"}, "not_found", True),
    "react without emoji": ({"type": "react", "seq": 1}, "bad_request", True),
    "react without seq": ({"type": "react", "emoji": "\U0001F44D"}, "bad_request", True),
    "react with an emoji list": ({"type": "react", "seq": 1, "emoji": ["\U0001F44D"]}, "bad_request", False),
    "react with a numeric emoji": ({"type": "react", "seq": 1, "emoji": 128077}, "bad_request", False),
    "react with a string remove": ({"type": "react", "seq": 1, "emoji": "\U0001F44D", "remove": "yes"}, "bad_request", False),
    "react with a numeric remove": ({"type": "react", "seq": 1, "emoji": "\U0001F44D", "remove": 1}, "bad_request", False),
    "react to a message that is not there": ({"type": "react", "seq": 999999, "emoji": "\U0001F44D"}, "not_found", True),
    "react to a negative seq": ({"type": "react", "seq": -1, "emoji": "\U0001F44D"}, "not_found", True),
}


@pytest.mark.parametrize("case", MALFORMED_FRAMES)
def test_malformed_edit_and_react_frames_get_error_frames(node, world, case):
    value, code, names_it = MALFORMED_FRAMES[case]
    value = {"room": world["room"], **value}
    value = {key: item for key, item in value.items() if item is not None}
    before = history(node, world["alice"], world["room"])
    with WebSocket.open(node.port, world["alice"]["access"]) as ws:
        ident, reply = answer(ws, value)
        assert error_code(reply) == code, reply
        if names_it:
            assert reply.get("re") == ident, reply
        # The socket goes on serving.
        ident, pong = answer(ws, {"type": "ping"})
        assert pong == {"re": ident, "ok": True}
    assert history(node, world["alice"], world["room"]) == before


@pytest.mark.parametrize("number", ["18446744073709551616", "1e400", "-9223372036854775809"])
def test_seqs_beyond_64_bits_in_frames_are_bad_requests(node, world, number):
    with WebSocket.open(node.port, world["alice"]["access"]) as ws:
        for kind in ("edit", "react"):
            _, reply = answer_raw(
                ws, f'{{"id":"ID","type":"{kind}","room":"{world["room"]}","seq":{number},"text":"x","emoji":"\U0001F44D"}}')
            assert error_code(reply) == "bad_request", reply


def test_an_edit_or_react_flood_on_a_socket_is_cut_off(node, world, fresh_message):
    """The socket's frame rate bounds edits and reactions as it bounds sends: a flood is answered rate_limited and
    the socket closed with 1008."""
    with WebSocket.open(node.port, world["alice"]["access"]) as ws:
        try:
            for index in range(300):
                ws.send({"type": "react", "room": world["room"], "seq": fresh_message, "emoji": "\U0001F44D",
                         "remove": index % 2 == 1})
                ws.send({"type": "edit", "room": world["room"], "seq": fresh_message, "text": f"flood {index}"})
        except OSError:
            pass  # the node closed the socket while the flood was still going out
        codes = []
        try:
            while True:
                value = ws.next(10)
                if value.get("type") == "error":
                    codes.append(value["error"]["code"])
        except Closed as closed:
            assert closed.code == 1008
        except Ended:
            pass
        assert "rate_limited" in codes, codes
    shown = history(node, world["alice"], world["room"])[fresh_message]
    assert shown["text"].startswith("flood") and int(shown["text"].split()[1]) < 100, shown


# The same message over the socket and over REST.

def test_a_reply_with_reactions_reads_the_same_from_the_socket_and_rest(node, world):
    alice, bob, room = world["alice"], world["bob"], world["room"]
    original = post(node, bob, room, "quote me \"exactly\" \\ with\nescapes \u00e9\U0001F600")
    with WebSocket.open(node.port, alice["access"]) as ws:
        ident, sent = answer(ws, {"type": "send", "room": room, "clientId": str(uuid.uuid4()), "text": "first take",
                                  "replyTo": original.json["seq"]})
        assert sent.get("ok") is True, sent
        seq = sent["message"]["seq"]
        for emoji in ("\U0001F44D", "\U0001F3F3\uFE0F\u200D\U0001F308"):
            assert react(node, bob, room, seq, emoji).status == 201
        ident, edited = answer(ws, {"type": "edit", "room": room, "seq": seq, "text": "second \"take\"\twith tab"})
        assert edited.get("re") == ident and edited.get("ok") is True, edited
    rest = history(node, alice, room)[seq]
    assert edited["message"] == rest
    assert rest["quoted"] == {"sender": bob["id"], "snippet": original.json["text"]}
    assert [r["emoji"] for r in rest["reactions"]] == ["\U0001F44D", "\U0001F3F3\uFE0F\u200D\U0001F308"]
    again = edit(node, alice, room, seq, "second \"take\"\twith tab")
    assert again.status == 200 and again.json == rest


# Search.

SEARCH_SYNTAX = [
    "\"", "pomegranate\"", "\"pomegranate", "pomegranate OR kumquat", "kumquat OR pomegranate", "NEAR(pomegranate kumquat)",
    "pomegranate:* & kumquat", "pomegranate | kumquat", "!kumquat", "text:pomegranate", "^pomegranate", "pomegranate*",
    "-kumquat pomegranate", "pomegranate NOT kumquat", "'); DROP TABLE messages;--", "\\", "*", "(", "a) OR (1=1",
    "{pomegranate}", "pomegranate <-> kumquat", "pomegranate <2> noon", "@@", "\u24D0", "\u0345", "\u00BD", "\u2160",
    "\U0001F600", "pomegranate\u200B", "p\u0301omegranate", "\uFF50omegranate", "\u0130",
]


@pytest.mark.parametrize("query", SEARCH_SYNTAX)
def test_search_syntax_of_either_database_is_only_words(node, world, query):
    reply = search(node, world["readers"][SEARCH_SYNTAX.index(query) % len(world["readers"])], query)
    no_500(reply)
    assert reply.status in (200, 400), reply
    if reply.status == 400:
        assert reply.code == "invalid_field", reply
        return
    rooms = {message["room"] for message in reply.json["messages"]}
    assert rooms <= {world["room"]}, reply
    assert "kumquat" not in reply.body.decode(), reply


def test_search_words_survive_the_syntax_around_them(node, world):
    for query in ("pomegranate\"", "(pomegranate)", "pomegranate:*", "pomeg*", "POMEGRANATE", "noon & lunch", "\"lunch\" noon"):
        reply = search(node, world["readers"][0], query, room=world["room"])
        assert reply.status == 200, (query, reply)
        assert world["first"]["seq"] in [m["seq"] for m in reply.json["messages"]], (query, reply)


BAD_PAGES = {
    "limit 0": {"limit": "0"},
    "a negative limit": {"limit": "-1"},
    "a huge limit": {"limit": "1000000"},
    "a limit over 64 bits": {"limit": "99999999999999999999"},
    "a word for a limit": {"limit": "all"},
    "a negative offset": {"offset": "-1"},
    "offset 1001": {"offset": "1001"},
    "a huge offset": {"offset": "9223372036854775807"},
    "an offset over 64 bits": {"offset": "99999999999999999999"},
    "a fractional offset": {"offset": "1.5"},
    "no query": {"q": ""},
    "a blank query": {"q": "   "},
    "punctuation only": {"q": "!!! *** ???"},
    "65 characters": {"q": "a" * 65},
    "nine words": {"q": "a b c d e f g h i"},
    "a control character": {"q": "pome\u0007granate"},
}


@pytest.mark.parametrize("case", BAD_PAGES)
def test_search_refuses_bad_pages_and_queries(node, world, case):
    parameters = {"q": "pomegranate", **BAD_PAGES[case]}
    reply = call(node.port, "GET", "/api/search?" + urllib.parse.urlencode(parameters), token=world["alice"]["access"])
    assert (reply.status, reply.code) == (400, "invalid_field"), reply


def test_search_pages_through_the_results(node, world):
    alice, room = world["alice"], world["room"]
    until = deadline()
    seqs = {send(node, alice, room, f"persimmon page {index}", until)["seq"] for index in range(5)}
    seen, offset, pages = set(), 0, 0
    while offset is not None:
        reply = search(node, alice, "persimmon", room=room, limit=2, offset=offset)
        assert reply.status == 200, reply
        seen |= {m["seq"] for m in reply.json["messages"]}
        offset, pages = reply.json["next"], pages + 1
        assert pages <= 4
    assert seen == seqs
    last = search(node, alice, "persimmon", limit=2, offset=1000)
    assert last.status == 200 and last.json == {"messages": [], "next": None}, last


def test_search_next_never_points_past_the_last_offset_it_serves(node, world):
    """`next` is the offset of the next page, which the search must then serve: past offset 1000 it is refused, so
    after the last page it serves `next` must be null."""
    owner = register(node, "deep")
    helpers = [register(node, "deephelp") for _ in range(5)]
    room = group(node, owner, helpers, name="deep")
    fill(node, room, helpers + [owner], 1002, "medlar", seconds=240)
    reply = search(node, owner, "medlar", room=room, limit=2, offset=999)
    assert reply.status == 200 and len(reply.json["messages"]) == 2, reply
    following = reply.json["next"]
    if following is not None:
        page = search(node, owner, "medlar", room=room, limit=2, offset=following)
        assert page.status == 200, f"next={following}, but that page is refused: {page!r}"


def test_search_throttle_is_per_user_and_says_when_to_come_back():
    """A node of its own, with PARLEY_SEARCH_LIMIT=3: three searches a minute, per user across their sessions; the
    fourth is 429 rate_limited with Retry-After, and another user is not affected."""
    folder = tempfile.mkdtemp(prefix="parley-hostile-search-")
    other = Node(folder, {"PARLEY_SEARCH_LIMIT": "3"}, name="search")
    try:
        other.start()
        greedy, bystander = register(other, "greedy"), register(other, "bystander")
        # What is refused before the search spends nothing.
        for _ in range(5):
            refused = search(other, greedy, "!!!")
            assert (refused.status, refused.code) == (400, "invalid_field"), refused
        for index in range(3):
            reply = search(other, greedy, f"word{index}")
            assert reply.status == 200, (index, reply)
        limited = search(other, greedy, "word")
        assert (limited.status, limited.code) == (429, "rate_limited"), limited
        assert 1 <= int(limited.headers.get("retry-after", "0")) <= 60, limited.headers
        elsewhere = login(other, greedy)
        assert search(other, {"access": elsewhere["access"]}, "word").status == 429
        assert search(other, bystander, "word").status == 200
        assert other.healthy()
    finally:
        other.kill()
        shutil.rmtree(folder, ignore_errors=True)


# Mentions.

def mentions(ws, room, seconds=1.5):
    return heard(ws, lambda value: value.get("type") == "mention" and value.get("room") == room, seconds)


def test_mentions_reach_members_only_once_each_and_never_the_sender(node, world):
    alice, bob, carol, room = world["alice"], world["bob"], world["carol"], world["room"]
    with WebSocket.open(node.port, bob["access"]) as bob_ws, WebSocket.open(node.port, carol["access"]) as carol_ws, \
            WebSocket.open(node.port, alice["access"]) as alice_ws:
        text = (f"@{bob['username']} and @{bob['username'].upper()}, @{carol['username']} @{alice['username']} "
                f"mail{bob['username']}@example.org @@{bob['username']}")
        sent = post(node, alice, room, text)
        assert sent.status == 201, sent
        heard_by_bob = mentions(bob_ws, room)
        assert heard_by_bob == [{"type": "mention", "room": room, "seq": sent.json["seq"], "sender": alice["id"],
                                 "snippet": text[:140]}], heard_by_bob
        assert mentions(carol_ws, room, 0.5) == [], "a mention reached someone who is not in the room"
        assert mentions(alice_ws, room, 0.5) == []
        # A retry of the same clientId, an edit, and a reply to it mention nobody again.
        retry = call(node.port, "POST", f"/api/rooms/{room}/messages", {"clientId": sent.json["clientId"], "text": text},
                     token=alice["access"])
        assert retry.status == 200
        assert edit(node, alice, room, sent.json["seq"], text + " (edited)").status == 200
        assert mentions(bob_ws, room, 0.5) == []


def test_a_mention_storm_notifies_at_most_20_members(node):
    owner = register(node, "storm")
    members = [register(node, "m") for _ in range(22)]
    room = group(node, owner, members, name="storm")
    outsiders = [register(node, "o") for _ in range(5)]
    text = " ".join(f"@{user['username']}" for user in outsiders + members)
    sockets = [WebSocket.open(node.port, user["access"], source=f"127.0.{50 + index // 20}.{1 + index % 20}")
               for index, user in enumerate(members + outsiders)]
    try:
        started = time.monotonic()
        sent = post(node, owner, room, text)
        assert sent.status == 201, sent
        assert time.monotonic() - started < 10
        told = [len(mentions(ws, room, 0.3)) for ws in sockets]
    finally:
        for ws in sockets:
            ws.close()
    assert all(count <= 1 for count in told), told
    assert sum(told[len(members):]) == 0, "outsiders were told"
    assert 1 <= sum(told) <= 20, told


def test_a_text_of_thousands_of_at_signs_is_sent_quickly(node, world):
    started = time.monotonic()
    for text in ("@" * 4000, "@a " * 1333, ("@" + "a" * 40 + " ") * 97, "@" + "\u0301" * 8 + "bob " * 900):
        reply = post(node, world["alice"], world["room"], text)
        no_500(reply)
        assert reply.status in (201, 400), reply
    assert time.monotonic() - started < 15


# Read marks shared by a user's devices.

def test_a_read_mark_that_does_not_move_does_not_tell_devices_it_moved_back(node, world):
    """A read mark moves only forward: reading an older seq again must not tell the reader's other devices (or the
    room) that the mark is now there."""
    alice, bob = world["alice"], world["bob"]
    room = group(node, alice, [bob], name="marks")
    until = deadline()
    for index in range(4):
        send(node, alice, room, f"mark {index}", until)
    phone = login(node, bob)
    assert call(node.port, "POST", f"/api/rooms/{room}/read", {"seq": 3}, token=bob["access"]).status == 204
    with WebSocket.open(node.port, phone["access"]) as ws:
        assert call(node.port, "POST", f"/api/rooms/{room}/read", {"seq": 1}, token=bob["access"]).status == 204
        told = heard(ws, lambda value: value.get("type") == "room.read" and value.get("room") == room)
    listed = {summary["id"]: summary for summary in call(node.port, "GET", "/api/rooms", token=bob["access"]).json}
    assert listed[room]["lastRead"] == 3 and listed[room]["unread"] == 1
    assert all(event["seq"] == 3 for event in told), f"devices were told the mark went back: {told}"


def test_read_marks_reach_the_readers_other_devices_only(node, world):
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    room = group(node, alice, [bob], name="devices")
    until = deadline()
    for index in range(3):
        send(node, alice, room, f"device {index}", until)
    phone = login(node, bob)
    with WebSocket.open(node.port, phone["access"]) as bob_phone, WebSocket.open(node.port, carol["access"]) as carol_ws:
        assert call(node.port, "POST", f"/api/rooms/{room}/read", {"seq": 2}, token=bob["access"]).status == 204
        told = heard(bob_phone, lambda value: value.get("type") == "room.read")
        assert told == [{"type": "room.read", "room": room, "seq": 2, "unread": 1}], told
        assert heard(carol_ws, lambda value: value.get("type") in ("room.read", "read"), 0.5) == []
    for body, code in (({"seq": -1}, "invalid_field"), ({"seq": 999}, "invalid_field"), ({"seq": "2"}, "bad_request")):
        reply = call(node.port, "POST", f"/api/rooms/{room}/read", body, token=bob["access"])
        assert (reply.status, reply.code) == (400, code), (body, reply)
