"""Recording meetings end to end: the cluster's recorder worker (scripts/cluster starts one, parley-peer
record-worker) records a call between the web client in Chromium (on ws-1) and parley-peer (on ws-2), both sending
test patterns; the file is posted in the room and ffprobe checks it. The worker SIGKILLed mid-recording leaves a
part that plays and is posted, another worker records the second part, neither attendee's call drops, and the
meeting's end stops the recording; with no worker to take it over, the recording ends and the attendees are told.
Refused: a non-attendee, no worker running, a meeting that has ended."""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

from conftest import probe
from terminal_user import PASSWORD

RECORDER = "recorder"


def rest(cluster, method, path, token=None, body=None):
    """(status, JSON answer) of a REST call through HAProxy."""
    request = urllib.request.Request(cluster.base_url + path, method=method, data=None if body is None else json.dumps(body).encode())
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            data = response.read()
            return response.status, json.loads(data) if data else None
    except urllib.error.HTTPError as error:
        data = error.read()
        return error.code, json.loads(data) if data else None


def token(cluster, user):
    status, session = rest(cluster, "POST", "/api/auth/login", body={"username": user.username, "password": PASSWORD})
    assert status == 200, session
    return session["accessToken"]


def recordings(user, room):
    """The room's messages from the recorder, oldest first."""
    lines = [json.loads(line) for line in user.ok("history", room, "--json").splitlines() if line.strip()]
    return [m for m in lines if m["sender"] == RECORDER]


def wait_for(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, message()
        time.sleep(0.5)


def video_seconds(path):
    """The span of the video's packets: streamable WebM keeps no duration."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path],
        capture_output=True, text=True, timeout=60)
    times = [float(line) for line in result.stdout.split() if line.strip() not in ("", "N/A")]
    assert len(times) > 10, f"{path}: {len(times)} video packets\n{result.stderr}"
    return max(times) - min(times)


def max_volume(path):
    """The loudest sample of the audio, in dB (ffmpeg's volumedetect); about -91 for silence."""
    result = subprocess.run(["ffmpeg", "-hide_banner", "-i", path, "-vn", "-af", "volumedetect", "-f", "null", "-"],
                            capture_output=True, text=True, timeout=60)
    found = re.search(r"max_volume: (-?[\d.]+) dB", result.stderr)
    assert found, result.stderr[-2000:]
    return float(found.group(1))


def saved(user, file, folder):
    os.makedirs(folder, exist_ok=True)
    return user.ok("download", file["id"], "-o", str(folder)).strip()


def in_call(new_user, web, parley_peer):
    """parley-peer (a new user, on ws-2) calls the browser (on ws-1), which answers: (bot, room, peer, meeting,
    the peer's conn)."""
    bot = new_user("rec")
    room = json.loads(bot.ok("contacts", "add", web.username, "--json"))["room"]
    peer = parley_peer(bot, "call", f"@{web.username}")
    web.wait(lambda: web.shown("incoming"), timeout=30, message="the browser did not ring")
    web.click("accept-call")
    joined = peer.wait_event("joined", room=room)
    conn, meeting = joined["conn"], joined["meeting"]
    web.wait(lambda: web.call and web.call["id"] == meeting and web.call["peers"].get(conn) == "connected", timeout=30,
             message=f"the browser is not connected to parley-peer: {web.call}")
    return bot, room, peer, meeting, conn


def recorder_connected(web):
    """The recorder's conn once the browser's peer connection to it is up."""
    call = web.call or {}
    return next((c for c in call.get("recorders", []) if call["peers"].get(c) == "connected"), None)


def test_a_call_across_two_nodes_is_recorded_and_posted_in_the_room(cluster, new_user, web, parley_peer, tmp_path):
    bot, room, peer, meeting, conn = in_call(new_user, web, parley_peer)
    assert conn.split("~")[0] != web.conn.split("~")[0], f"both on one node: {conn}, {web.conn}"

    web.click("record")
    web.wait(lambda: web.script("return document.getElementById('call').dataset.recording") == "true", message="no recording indicator")
    assert web.element("recording-indicator").is_displayed() and "Recording" in web.element("recording-indicator").text
    recorder = web.wait(lambda: recorder_connected(web), timeout=30, message=f"the recorder did not connect: {web.call}")
    # The recorder is no participant: no tile, not among the attendees.
    assert recorder not in web.call["attendees"] and not web.tile(recorder)
    time.sleep(10)
    web.click("record")
    web.wait(lambda: web.script("return document.getElementById('call').dataset.recording") == "false", message="the indicator stayed")
    web.screenshot("recording-stopped")

    posted = wait_for(lambda: recordings(bot, room), 60, lambda: f"nothing posted:\n{cluster.run('logs', 'recorder-1')[-3000:]}")
    assert len(posted) == 1, posted
    message = posted[0]
    assert re.match(r"Recording of the call of .+ UTC · 0:(0[89]|1[0-2])$", message["text"]), message["text"]
    (file,) = message["files"]
    assert file["contentType"] == "video/webm" and file["name"].startswith("recording-") and file["name"].endswith(".webm"), file
    path = saved(bot, file, tmp_path / "saved")
    media = probe(path)
    streams = {s["codec_type"]: s for s in media["streams"]}
    assert streams["video"]["codec_name"] == "vp8" and (streams["video"]["width"], streams["video"]["height"]) == (640, 360), media
    assert streams["audio"]["codec_name"] == "opus", media
    seconds = video_seconds(path)
    assert 8 <= seconds <= 12, f"the video spans {seconds} s"
    assert max_volume(path) > -40, "the audio is silent"
    # Whoever started it hears that it is ready; the call goes on.
    web.wait(lambda: "recording is in the room" in web.script("return document.body.innerText"), timeout=20, message="no recording.ready")
    assert web.call["peers"].get(conn) == "connected" and not peer.of("ended")


def test_a_killed_worker_leaves_a_part_that_plays_and_another_records_the_next(cluster, new_user, web, parley_peer, tmp_path):
    bot, room, peer, meeting, conn = in_call(new_user, web, parley_peer)
    web.click("record")
    first = web.wait(lambda: recorder_connected(web), timeout=30, message=f"the recorder did not connect: {web.call}")
    time.sleep(5)
    cluster.run("kill", "recorder-1")
    # A worker again on the same spool: it posts the part the killed one left at once, and takes the job over once
    # the lease lapses.
    cluster.run("restart", "recorder-1")
    parts = wait_for(lambda: recordings(bot, room), 30, lambda: f"part 1 not posted:\n{cluster.run('logs', 'recorder-1')[-3000:]}")
    part1 = saved(bot, parts[0]["files"][0], tmp_path / "part1")
    assert 2 <= video_seconds(part1) <= 7, "the killed worker's part does not play"

    second = web.wait(lambda: (lambda c: c if c and c != first else None)(recorder_connected(web)), timeout=40,
                      message=f"no second recorder: {web.call}")
    assert second != first
    time.sleep(4)
    # Neither attendee's call dropped.
    assert web.call and web.call["id"] == meeting and web.call["peers"].get(conn) == "connected", web.call
    assert not peer.of("ended"), peer.describe()

    # The browser hangs up; parley-peer, left with the recorder only, hangs up too, and the meeting's end stops the
    # recording: its second part is posted.
    web.click("leave-call")
    peer.wait_event("ended", meeting=meeting, timeout=20)
    parts = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(recordings(bot, room)), 60,
                     lambda: f"part 2 not posted:\n{cluster.run('logs', 'recorder-1')[-3000:]}")
    assert "part 2" in parts[1]["text"] and parts[1]["files"][0]["name"].endswith("-part2.webm"), parts
    part2 = saved(bot, parts[1]["files"][0], tmp_path / "part2")
    assert 2 <= video_seconds(part2) <= 9


def test_a_recording_whose_worker_is_gone_for_good_ends_and_the_attendees_are_told(cluster, new_user, web, parley_peer):
    bot, room, peer, meeting, conn = in_call(new_user, web, parley_peer)
    web.click("record")
    web.wait(lambda: recorder_connected(web), timeout=30, message=f"the recorder did not connect: {web.call}")
    time.sleep(3)
    cluster.run("kill", "recorder-1")
    try:
        # No worker takes it over: once its lease (8 s) and the grace after it (15 s) are over, the recording ends.
        web.wait(lambda: web.script("return document.getElementById('call').dataset.recording") == "false", timeout=40,
                 message="the recording still shows")
        web.wait(lambda: "the recorder failed" in web.script("return document.body.innerText"), timeout=5, message="no word of it")
        assert web.call["peers"].get(conn) == "connected" and not peer.of("ended")
    finally:
        cluster.run("restart", "recorder-1")
    # The part it left is posted by the next worker on its spool.
    parts = wait_for(lambda: recordings(bot, room), 30, lambda: f"the part left is not posted:\n{cluster.run('logs', 'recorder-1')[-3000:]}")
    assert len(parts) == 1 and parts[0]["files"][0]["contentType"] == "video/webm", parts


def test_recording_is_refused_to_a_non_attendee_without_a_worker_and_after_the_end(cluster, new_user, parley_peer):
    alice, bob = new_user("alice"), new_user("bob")
    room = json.loads(alice.ok("contacts", "add", bob.username, "--json"))["room"]
    caller = parley_peer(alice, "call", f"@{bob.username}")
    meeting = caller.wait_event("joined", room=room)["meeting"]
    alice_token, bob_token = token(cluster, alice), token(cluster, bob)

    # Bob is a member who has not joined: no attendee.
    status, answer = rest(cluster, "POST", f"/api/meetings/{meeting}/recording", bob_token)
    assert status == 403 and answer["error"]["code"] == "forbidden", answer

    cluster.run("kill", "recorder-1")
    try:
        # A worker counts as free for 5 s after it last asked for a job.
        time.sleep(6)
        status, answer = rest(cluster, "POST", f"/api/meetings/{meeting}/recording", alice_token)
        assert status == 503 and answer["error"]["code"] == "recorder_unavailable", answer
    finally:
        cluster.run("restart", "recorder-1")

    status, _ = rest(cluster, "POST", f"/api/meetings/{meeting}/end", alice_token)
    assert status == 200
    status, answer = rest(cluster, "POST", f"/api/meetings/{meeting}/recording", alice_token)
    assert status == 410 and answer["error"]["code"] == "meeting_ended", answer
