"""parley-peer end to end: calls with the web client in Chromium (each calling the other; the browser on ws-1,
parley-peer wherever HAProxy sends it), with aiortc (on ws-2), a three-way mesh of all three, recording to WebM, and
its failures: an unknown room, no sign-in, bad usage, a peer that vanishes mid-call, and an unreachable server. That
last test stops HAProxy for a while, so it runs last."""

import json
import os
import time

import pytest

from conftest import probe, stream_duration

CONNECTED = ("connected", "completed")
STATS_FIELDS = {
    "conn", "user", "ice", "bitrateIn", "bitrateOut", "framesDecoded", "audioPacketsIn", "audioPacketsOut", "videoPacketsIn",
    "videoPacketsOut", "packetsLost", "rtt",
}


def decoding(stats):
    return stats["ice"] in CONNECTED and stats["framesDecoded"] > 0


@pytest.mark.parametrize(("caller", "kind"), [("browser", "audio"), ("parley-peer", "video")], ids=["browser-calls", "parley-peer-calls"])
def test_parley_peer_and_chromium_see_and_hear_each_other_and_chromium_sees_the_mute(new_user, web, parley_peer, caller, kind):
    bot = new_user("bot")
    room = json.loads(bot.ok("contacts", "add", web.username, "--json"))["room"]
    if caller == "browser":
        peer = parley_peer(bot, "answer")
        web.open_room(room)
        web.click("call-button")
    else:
        peer = parley_peer(bot, "call", f"@{web.username}")
        web.wait(lambda: web.shown("incoming"), timeout=30, message="the browser did not ring")
        assert "Bot is calling" in web.element("incoming-who").text
        web.click("accept-call")
    joined = peer.wait_event("joined", room=room)
    conn, meeting = joined["conn"], joined["meeting"]
    web.wait(lambda: web.call and web.call["id"] == meeting and web.call["joined"], message="the browser did not join")
    browser_conn = web.conn
    assert conn != browser_conn

    # Both decode the other's video, and audio flows both ways.
    web.wait(lambda: (web.tile(conn) or {}).get("width", 0) > 0, timeout=40, message=f"no video from parley-peer: {web.tile(conn)}")
    web.wait(lambda: (lambda t: t and t["video"] > 0 and t["audio"] > 0)(web.inbound()), timeout=30, message=f"Chromium's inbound: {web.inbound()}")
    peer.wait_stats(
        browser_conn, lambda s: decoding(s) and s["audioPacketsIn"] > 0 and s["audioPacketsOut"] > 0 and s["videoPacketsOut"] > 0,
        what="decoding video and hearing audio",
    )
    assert web.call["peers"] == {conn: "connected"}
    web.screenshot(f"chromium-{caller}-calls")

    # parley-peer turns its `kind` off: it says so, Chromium shows that attendee muted, and nothing more of that kind
    # arrives.
    peer.send(f"mute {kind}")
    media = peer.wait_event("media", timeout=15)
    assert media[kind] is False and media["audio" if kind == "video" else "video"] is True, media
    caption = "mic off" if kind == "audio" else "camera off"
    web.wait(lambda: web.tile(conn)[kind] == "false" and caption in web.tile(conn)["caption"], timeout=15, message=f"the tile shows no mute: {web.tile(conn)}")
    time.sleep(1)
    before = web.inbound()[kind]
    time.sleep(2)
    assert web.inbound()[kind] == before, f"{kind} still arrives after `mute {kind}`"
    web.screenshot(f"chromium-{caller}-calls-muted")

    # Chromium ends the call: parley-peer says so and exits 0.
    web.click("end-call")
    web.wait(lambda: not web.shown("call"), message="the call did not end in the browser")
    peer.wait_event("ended", meeting=meeting, timeout=20)
    assert peer.exit_status(20) == 0, peer.describe()


def test_parley_peer_and_aiortc_exchange_audio_and_video(new_user, aio, parley_peer):
    bot = new_user("bot")
    caller = aio.peer("aio", "ws-2")
    room = aio.run(caller.call("POST", "/api/contacts", {"username": bot.username}))["room"]

    # parley-peer calls; aiortc answers by joining, and offers to parley-peer. (aiortc takes only ECDSA DTLS
    # certificates, and GStreamer's is RSA: aiortc must be the DTLS server, which the answerer of its offer makes it.)
    peer = parley_peer(bot, "call", room)
    conn = peer.wait_event("joined")["conn"]
    meeting = peer.of("joined")[0]["meeting"]
    aio.run(caller.wait("meeting.ringing", lambda f: f["meeting"]["id"] == meeting, timeout=30))
    aio.run(caller.join(meeting))
    aio.run(caller.until_connected(conn, timeout=40), 60)
    aio.run(caller.until_heard(conn), 40)
    stats = peer.wait_stats(
        caller.conn, lambda s: decoding(s) and s["audioPacketsIn"] > 0 and s["videoPacketsOut"] > 0, what="decoding aiortc's video and hearing it"
    )
    assert caller.frames[conn] >= 10 and caller.audio_frames[conn] >= 10

    # The other lines of the interface, about this one peer.
    assert STATS_FIELDS <= set(stats), f"missing {STATS_FIELDS - set(stats)} in {stats}"
    # "user" names aiortc's user (by id, as the protocol's attendees do, or by username).
    assert stats["user"] in (caller.user, caller.username), stats
    state = peer.wait(lambda e: e.get("event") == "peer" and e.get("conn") == caller.conn and e.get("state") in CONNECTED, 5, "peer event, connected")
    assert state["user"] == stats["user"], state
    first = peer.of("first-frame")
    assert [f["conn"] for f in first] == [caller.conn], first
    assert isinstance(first[0]["afterMs"], (int, float)) and first[0]["afterMs"] >= 0, first

    aio.run(caller.request({"type": "meeting.end", "meeting": meeting}))
    peer.wait_event("ended", meeting=meeting, timeout=20)
    assert peer.exit_status(20) == 0, peer.describe()


def test_parley_peer_chromium_and_aiortc_form_a_full_mesh(new_user, web, aio, parley_peer):
    bot = new_user("mesh")
    carol = aio.peer("carol", "ws-2")
    name = f"Mesh {bot.username[-8:]}"
    room = json.loads(bot.ok("group", "create", name, "--member", web.username, "--member", carol.username, "--json"))["room"]["id"]
    peer = parley_peer(bot, "answer", "--room", room)

    # Chromium starts the call; parley-peer joins second (and offers to Chromium), aiortc third (and offers to both).
    web.open_room(room)
    web.click("call-button")
    web.wait(lambda: web.call and web.call["joined"], message="the browser did not join its call")
    meeting, browser_conn = web.call["id"], web.conn
    conn = peer.wait_event("joined", meeting=meeting, timeout=30)["conn"]
    aio.run(carol.wait("meeting.ringing", lambda f: f["meeting"]["id"] == meeting, timeout=30))
    aio.run(carol.join(meeting))

    for remote in (browser_conn, carol.conn):
        peer.wait_stats(remote, decoding, timeout=45, what="connected and decoding")
    for remote in (conn, browser_conn):
        aio.run(carol.until_connected(remote, timeout=45), 60)
    web.wait(lambda: web.call["peers"] == {conn: "connected", carol.conn: "connected"}, timeout=30, message=f"the browser's peers: {web.call['peers']}")
    for remote in (conn, carol.conn):
        web.wait(lambda: (web.tile(remote) or {}).get("width", 0) > 0, timeout=30, message=f"no video in the browser from {remote}")
    web.screenshot("mesh")

    # One second on, parley-peer's latest stats still show both of its peers connected and decoding.
    time.sleep(1.5)
    latest = {}
    for stats in peer.of("stats"):
        latest[stats["conn"]] = stats
    assert set(latest) == {browser_conn, carol.conn}, latest
    assert all(decoding(s) for s in latest.values()), latest

    web.click("end-call")
    peer.wait_event("ended", meeting=meeting, timeout=20)
    assert peer.exit_status(20) == 0, peer.describe()


def test_record_writes_a_webm_per_remote_attendee(new_user, parley_peer, tmp_path):
    alice, bob = new_user("alice"), new_user("bob")
    alice.ok("contacts", "add", bob.username)
    folder = str(tmp_path / "recordings")
    os.makedirs(folder)

    # Bob records Alice's call for 6 s from his joining, then leaves and exits, finalizing the file.
    recorder = parley_peer(bob, "answer", "--record", folder, "--duration", "6")
    caller = parley_peer(alice, "call", f"@{bob.username}")
    alice_conn = caller.wait_event("joined")["conn"]
    recorder.wait_event("joined", timeout=30)
    recorder.wait_stats(alice_conn, decoding, timeout=30)
    recorded = recorder.wait_event("recorded", conn=alice_conn, timeout=30)
    assert recorder.exit_status(20) == 0, recorder.describe()
    # Left alone, Alice's parley-peer hangs up too.
    assert caller.wait_event("ended", timeout=20)["reason"] == "empty"
    assert caller.exit_status(20) == 0, caller.describe()

    expected = os.path.join(folder, f"{alice.username}-{alice_conn}.webm")
    assert os.path.realpath(recorded["path"]) == os.path.realpath(expected), recorded
    assert os.listdir(folder) == [os.path.basename(expected)]
    media = probe(expected)
    streams = {s["codec_type"]: s for s in media["streams"]}
    assert streams.get("video", {}).get("codec_name") == "vp8", media["streams"]
    assert streams.get("audio", {}).get("codec_name") == "opus", media["streams"]
    assert streams["video"]["width"] > 0 and streams["video"]["height"] > 0
    # 6 s in the meeting, less the time ICE and the first frame took.
    seconds = stream_duration(streams["video"], media["format"])
    assert 3.0 <= seconds <= 7.5, f"the video lasts {seconds} s: {media}"


def test_an_unknown_room_no_sign_in_and_bad_usage_fail(new_user, homes):
    user = new_user("lost")
    unknown = user.peer_once("call", "nosuchroom", "--ice-address", "127.0.0.1")
    assert unknown.returncode == 1, unknown
    assert "not_found" in unknown.stderr, unknown.stderr

    stranger = new_user("stranger")
    stranger.environment["XDG_CONFIG_HOME"] = os.path.join(str(homes), f"{stranger.username}-empty")
    os.makedirs(stranger.environment["XDG_CONFIG_HOME"])
    nobody = stranger.peer_once("call", f"@{user.username}")
    assert nobody.returncode == 1, nobody
    assert "parley login" in nobody.stderr, nobody.stderr

    usage = user.peer_once("call")
    assert usage.returncode == 2, usage


def test_a_peer_that_vanishes_mid_call_leaves_and_the_others_go_on(new_user, parley_peer, tmp_path):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    name = f"Trio {alice.username[-8:]}"
    room = json.loads(alice.ok("group", "create", name, "--member", bob.username, "--member", carol.username, "--json"))["room"]["id"]
    folder = str(tmp_path / "recordings")
    os.makedirs(folder)
    caller = parley_peer(alice, "call", room, "--duration", "14", "--record", folder)
    bob_peer = parley_peer(bob, "answer", "--room", room)
    carol_peer = parley_peer(carol, "answer", "--room", room)
    alice_conn = caller.wait_event("joined")["conn"]
    bob_conn = bob_peer.wait_event("joined", timeout=30)["conn"]
    carol_conn = carol_peer.wait_event("joined", timeout=30)["conn"]
    for remote in (bob_conn, carol_conn):
        caller.wait_stats(remote, decoding, what=f"decoding {remote}'s video")
    carol_peer.wait_stats(alice_conn, decoding, what="Carol decoding Alice's video")

    # Bob's parley-peer is killed: Alice's and Carol's hear he left, Alice's finishes his recording, and the call goes
    # on between the two of them to the end of Alice's --duration. Then Carol, alone, hangs up too; both exit 0.
    bob_peer.kill()
    for peer in (caller, carol_peer):
        left = peer.wait_event("attendee.left", conn=bob_conn, timeout=20)
        assert left["username"] == bob.username, left
    recorded = caller.wait_event("recorded", conn=bob_conn, timeout=20)
    mark = caller.mark()
    caller.wait_stats(carol_conn, decoding, after=mark, what="still decoding Carol's video after Bob vanished")
    assert caller.process.poll() is None, "parley-peer left before --duration"
    assert caller.exit_status(30) == 0, caller.describe()
    assert time.monotonic() - caller.started >= 14, "parley-peer left before --duration"
    assert carol_peer.wait_event("ended", timeout=20)["reason"] == "empty"
    assert carol_peer.exit_status(20) == 0, carol_peer.describe()
    media = probe(recorded["path"])
    assert "vp8" in [s["codec_name"] for s in media["streams"]], media


def test_parley_peer_retries_an_unreachable_server_and_connects_once_it_is_back(cluster, new_user, parley_peer):
    alice, bob = new_user("alice"), new_user("bob")
    alice.ok("contacts", "add", bob.username)
    cluster.stop_load_balancer()
    try:
        callee = parley_peer(bob, "answer", "--duration", "4")
        callee.wait_stderr(lambda line: "cannot reach" in line, timeout=30, what='"cannot reach"')
        assert callee.process.poll() is None, "parley-peer gave up"
    finally:
        cluster.start_load_balancer()

    # Back: it connects at its next try, and takes the call.
    caller = parley_peer(alice, "call", f"@{bob.username}", "--duration", "8")
    alice_conn = caller.wait_event("joined", timeout=30)["conn"]
    callee.wait_event("joined", timeout=45)
    callee.wait_stats(alice_conn, decoding, what="decoding Alice's video after the server came back")
    assert callee.exit_status(20) == 0, callee.describe()
    # While the server was away, a JSON line said so too.
    unreachable = callee.of("server")
    assert unreachable and unreachable[0]["state"] == "unreachable", callee.describe()
    assert isinstance(unreachable[0]["retryIn"], (int, float)) and unreachable[0]["retryIn"] > 0, unreachable
