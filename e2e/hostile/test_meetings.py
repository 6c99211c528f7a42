"""Removal ends attendance: a member removed from a group is taken out of its meeting at once."""

import time

from conftest import group, register
from wire import WebSocket, call


def events_within(ws, seconds):
    """Every frame that arrives within `seconds`."""
    frames, deadline = [], time.monotonic() + seconds
    try:
        while True:
            frames.append(ws.next(timeout=max(0.0, deadline - time.monotonic())))
    except TimeoutError:
        return frames


def test_a_removed_member_leaves_the_meeting(node):
    owner, alice, bob = register(node, "host"), register(node, "alice"), register(node, "bob")
    room = group(node, owner, [alice, bob], name="standup")
    started = call(node.port, "POST", f"/api/rooms/{room}/meetings", {}, token=owner["access"])
    assert started.status == 201, started
    meeting = started.json["id"]
    with WebSocket.open(node.port, alice["access"]) as ws_alice, WebSocket.open(node.port, bob["access"]) as ws_bob:
        alice_conn, bob_conn = ws_alice.hello["conn"], ws_bob.hello["conn"]
        for ws in (ws_alice, ws_bob):
            reply = ws.request({"type": "meeting.join", "meeting": meeting, "audio": True, "video": False})
            assert reply.get("ok") is True, reply
        ws_alice.until(lambda event: event.get("type") == "attendee.joined" and event["attendee"]["conn"] == bob_conn)
        # Before the removal, Bob's signals reach Alice.
        signal = {"type": "signal", "meeting": meeting, "to": alice_conn, "kind": "bye", "payload": {}}
        assert ws_bob.request(signal).get("ok") is True
        assert ws_alice.until(lambda event: event.get("type") == "signal")["from"] == bob_conn

        assert call(node.port, "DELETE", f"/api/rooms/{room}/members/{bob['id']}", token=owner["access"]).status == 204
        left = [event for event in events_within(ws_alice, 3)
                if event.get("type") == "attendee.left" and event["attendee"]["conn"] == bob_conn]
        assert left, "Alice got no attendee.left for Bob's connection within 3 s of his removal"
        shown = call(node.port, "GET", f"/api/meetings/{meeting}", token=owner["access"]).json
        assert bob_conn not in [attendee["conn"] for attendee in shown["attendees"]], shown

        reply = ws_bob.request(signal)
        assert reply.get("ok") is False and reply["error"]["code"] in ("forbidden", "not_found"), reply
        reached = [event for event in events_within(ws_alice, 1) if event.get("type") == "signal"]
        assert not reached, f"a removed member's signal reached an attendee: {reached}"
