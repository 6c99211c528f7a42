"""Real WebRTC stacks (aiortc) connect through Parley's signaling, across WS nodes."""

import asyncio
import time

import aioice.turn
import pytest

from parley_peer import ParleyError, Peer, rest


async def peers(cluster, *placements):
    """Signed-up, connected peers, one per (name, WS node)."""
    result = []
    for name, node in placements:
        peer = Peer(cluster.nodes["api-1"], cluster.ws(node), name)
        await peer.sign_up()
        await peer.connect()
        result.append(peer)
    return result


async def group_of(owner, *others):
    detail = await owner.call("POST", "/api/rooms", {"name": "Call", "members": [p.user for p in others]})
    return detail["room"]["id"]


def test_two_peers_on_two_nodes_connect_and_exchange_data_and_video(cluster):
    async def scenario():
        alice, bob = await peers(cluster, ("alice", "ws-1"), ("bob", "ws-2"))
        assert alice.node != bob.node
        await alice.call("POST", "/api/contacts", {"username": bob.username})
        room = (await alice.call("GET", "/api/rooms"))[0]["id"]

        started = await alice.request({"type": "meeting.start", "room": room})
        meeting = started["meeting"]["id"]
        await alice.join(meeting)
        ring = await bob.wait("meeting.ringing", lambda f: f["meeting"]["id"] == meeting)
        assert ring["meeting"]["host"] == alice.user
        await bob.call("POST", f"/api/meetings/{meeting}/accept")
        await alice.wait("meeting.active", lambda f: f["meeting"]["id"] == meeting)
        joined = await bob.join(meeting)
        assert [a["conn"] for a in joined["attendees"]] == [alice.conn, bob.conn]

        # Bob offered to Alice through Parley; both connections come up and decode each other's video.
        await bob.until_connected(alice.conn)
        await alice.until_connected(bob.conn)
        assert alice.pcs[bob.conn].connectionState == "connected"
        assert await asyncio.wait_for(bob.echoes[alice.conn], 10) == "echo: ping from bob"
        assert alice.frames[bob.conn] >= 10 and bob.frames[alice.conn] >= 10

        # Bob's client dies mid-call: Alice hears he left, and the meeting goes on with her alone.
        bob.socket.transport.abort()
        left = await alice.wait("attendee.left", lambda f: f["attendee"]["conn"] == bob.conn, timeout=15)
        assert left["meeting"] == meeting
        await alice.request({"type": "meeting.leave", "meeting": meeting})
        ended = await alice.wait("meeting.ended", lambda f: f["meeting"]["id"] == meeting)
        assert ended["reason"] == "empty"
        assert (await alice.call("GET", f"/api/meetings/{meeting}"))["attendees"] == []
        await alice.close()
        for pc in bob.pcs.values():
            await pc.close()

    asyncio.run(scenario())


def test_three_peers_form_a_full_mesh(cluster):
    async def scenario():
        alice, bob, carol = await peers(cluster, ("alice", "ws-1"), ("bob", "ws-2"), ("carol", "ws-1"))
        room = await group_of(alice, bob, carol)
        meeting = (await alice.request({"type": "meeting.start", "room": room}))["meeting"]["id"]
        await alice.join(meeting)
        await bob.wait("meeting.ringing")
        await bob.join(meeting)
        await carol.wait("meeting.ringing")
        await carol.join(meeting)

        pairs = [(alice, bob), (alice, carol), (bob, carol)]
        for first, second in pairs:
            await first.until_connected(second.conn)
            await second.until_connected(first.conn)
        # The newcomer offered and opened the data channel in each pair.
        assert await asyncio.wait_for(bob.echoes[alice.conn], 10) == "echo: ping from bob"
        assert await asyncio.wait_for(carol.echoes[alice.conn], 10) == "echo: ping from carol"
        assert await asyncio.wait_for(carol.echoes[bob.conn], 10) == "echo: ping from carol"
        attendees = (await alice.call("GET", f"/api/meetings/{meeting}"))["attendees"]
        assert sorted(a["conn"] for a in attendees) == sorted([alice.conn, bob.conn, carol.conn])
        for peer in (alice, bob, carol):
            await peer.close()

    asyncio.run(scenario())


def test_a_non_attendee_is_refused_and_a_forged_sender_is_replaced(cluster):
    async def scenario():
        alice, bob, mallory = await peers(cluster, ("alice", "ws-1"), ("bob", "ws-2"), ("mallory", "ws-2"))
        room = await group_of(alice, bob, mallory)
        meeting = (await alice.request({"type": "meeting.start", "room": room}))["meeting"]["id"]
        alice.meeting = bob.meeting = mallory.meeting = meeting
        await alice.request({"type": "meeting.join", "meeting": meeting})
        await bob.request({"type": "meeting.join", "meeting": meeting})

        with pytest.raises(ParleyError) as refused:
            await mallory.signal(alice.conn, "offer", {"type": "offer", "sdp": "v=0\r\n"})
        assert refused.value.code == "forbidden"

        await bob.request(
            {"type": "signal", "meeting": meeting, "to": alice.conn, "kind": "bye", "payload": {}, "from": mallory.conn,
             "fromUser": mallory.user}
        )
        received = await alice.next_signal(bob.conn)
        assert received["from"] == bob.conn and received["fromUser"] == bob.user
        for peer in (alice, bob, mallory):
            await peer.close()

    asyncio.run(scenario())


def test_coturn_accepts_the_credentials_from_api_turn(cluster, coturn):
    async def scenario():
        (alice,) = await peers(cluster, ("alice", "ws-1"))
        answer = await alice.call("GET", "/api/turn")
        assert answer["ttl"] == 600
        (server,) = [s for s in answer["iceServers"] if s.get("username")]
        expiry, user = server["username"].split(":")
        assert user == alice.user and int(expiry) > time.time()

        class Quiet(asyncio.DatagramProtocol):
            pass

        transport, _ = await aioice.turn.create_turn_endpoint(
            Quiet, ("127.0.0.1", coturn), username=server["username"], password=server["credential"]
        )
        relayed = transport.get_extra_info("sockname")
        assert relayed[0] == "127.0.0.1" and 49200 <= relayed[1] <= 49300
        transport.close()

        # The same username with another password is refused.
        with pytest.raises(Exception):
            await asyncio.wait_for(
                aioice.turn.create_turn_endpoint(Quiet, ("127.0.0.1", coturn), username=server["username"], password="wrong"), 10
            )
        await alice.close()

    asyncio.run(scenario())


def test_api_turn_needs_a_signed_in_user(cluster):
    with pytest.raises(ParleyError) as refused:
        rest(cluster.nodes["api-1"], "GET", "/api/turn")
    assert refused.value.code == "unauthorized"
