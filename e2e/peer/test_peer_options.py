"""parley-peer's options and commands beyond calling and answering, end to end against the cluster of conftest.py:
`join MEETING` by a meeting's id, `--video FILE` and `--audio FILE` looped (checked in what the other side records),
`--ice-address` given twice, or not an address at all, and the figures of `--stats`, which must be the call's."""

import array
import json
import os
import subprocess
import time

import pytest

from conftest import probe, stream_duration

CONNECTED = ("connected", "completed")


def decoding(stats):
    return stats["ice"] in CONNECTED and stats["framesDecoded"] > 0


def call_between(alice, bob, parley_peer, caller_arguments=(), callee_arguments=()):
    """Alice calls Bob, a contact of hers, and Bob's parley-peer answers: both peers and both conns, once each decodes
    the other's video."""
    alice.ok("contacts", "add", bob.username)
    callee = parley_peer(bob, "answer", *callee_arguments)
    caller = parley_peer(alice, "call", f"@{bob.username}", *caller_arguments)
    alice_conn = caller.wait_event("joined")["conn"]
    bob_conn = callee.wait_event("joined", timeout=30)["conn"]
    caller.wait_stats(bob_conn, decoding, what="decoding Bob's video")
    callee.wait_stats(alice_conn, decoding, what="decoding Alice's video")
    return caller, callee, alice_conn, bob_conn


# MARK: join


def test_join_attends_a_meeting_by_its_id_and_both_sides_decode_each_others_video(new_user, parley_peer):
    alice, bob, stranger = new_user("alice"), new_user("bob"), new_user("stranger")
    room = json.loads(alice.ok("contacts", "add", bob.username, "--json"))["room"]

    # Alice starts the call; Bob's parley-peer joins it by the meeting id that Alice's printed, not by answering.
    caller = parley_peer(alice, "call", room)
    joined = caller.wait_event("joined", room=room)
    meeting, alice_conn = joined["meeting"], joined["conn"]
    joiner = parley_peer(bob, "join", meeting)
    bob_joined = joiner.wait_event("joined", meeting=meeting, timeout=30)
    bob_conn = bob_joined["conn"]
    assert bob_joined["room"] == room, bob_joined
    assert bob_conn != alice_conn
    assert caller.wait_event("attendee.joined", conn=bob_conn)["username"] == bob.username
    assert not joiner.of("ringing"), "join is not answering: it rang nothing"

    # Both decode the other's video.
    joiner.wait_stats(alice_conn, decoding, what="Bob decoding Alice's video")
    caller.wait_stats(bob_conn, decoding, what="Alice decoding Bob's video")

    # A user who is not in the room cannot join it by its id, even while it goes on.
    outsider = stranger.peer_once("join", meeting, "--ice-address", "127.0.0.1")
    assert outsider.returncode == 1, outsider
    assert "not_found" in outsider.stderr, outsider.stderr
    assert not [e for e in caller.of("attendee.joined") if e["conn"] != bob_conn], caller.describe()

    # Bob leaves: Alice, alone, hangs up, and the meeting is over; joining it again is refused.
    joiner.send("leave")
    assert joiner.exit_status(20) == 0, joiner.describe()
    assert caller.wait_event("ended", meeting=meeting, timeout=20)["reason"] == "empty"
    assert caller.exit_status(20) == 0, caller.describe()
    again = bob.peer_once("join", meeting, "--ice-address", "127.0.0.1")
    assert again.returncode == 1, again
    assert "meeting_ended" in again.stderr, again.stderr


# MARK: --video FILE and --audio FILE

CLIP_SECONDS = 2
CLIP_TONE = 1000  # Hz; parley-peer's own test tone is 440 Hz.


@pytest.fixture
def clip(tmp_path):
    """A 2-second WebM, VP8 and Opus: SMPTE colour bars scrolling sideways (every frame differs; neither black nor
    the test pattern's ball) and a 1 kHz tone."""
    path = str(tmp_path / "clip.webm")
    frames = CLIP_SECONDS * 30
    subprocess.run(
        [
            "gst-launch-1.0", "-q", "webmmux", "name=mux", "!", "filesink", f"location={path}",
            "videotestsrc", f"num-buffers={frames}", "pattern=smpte", "horizontal-speed=8", "!",
            "video/x-raw,width=320,height=240,framerate=30/1", "!", "vp8enc", "deadline=1", "!", "queue", "!", "mux.",
            "audiotestsrc", f"num-buffers={CLIP_SECONDS * 50}", "samplesperbuffer=960", "wave=sine", f"freq={CLIP_TONE}", "volume=0.7", "!",
            "audio/x-raw,rate=48000,channels=2", "!", "opusenc", "!", "queue", "!", "mux.",
        ],
        check=True, capture_output=True, timeout=60,
    )
    media = probe(path)
    seconds = stream_duration(media["streams"][0], media["format"])
    assert abs(seconds - CLIP_SECONDS) < 0.2, media
    return path


def video_frames(path):
    """Per decoded frame of a file's video: (time, mean luma, mean saturation, mean luma difference from the frame
    before), from ffmpeg's signalstats."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-an", "-vf", "signalstats,metadata=print:file=-", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    frames, current = [], None
    for line in result.stdout.splitlines():
        if line.startswith("frame:"):
            current = {"time": float(line.split("pts_time:")[1].split()[0])}
            frames.append(current)
        elif "=" in line and current is not None:
            key, value = line.rsplit("=", 1)
            current[key.split(".")[-1]] = float(value)
    return [(f["time"], f["YAVG"], f["SATAVG"], f["YDIF"]) for f in frames]


def audio_windows(path, seconds=0.5):
    """Per `seconds` of a file's audio, decoded to mono 48 kHz: (start, RMS as a fraction of full scale, frequency
    from upward zero crossings)."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-vn", "-ac", "1", "-ar", "48000", "-f", "s16le", "-"], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    samples = array.array("h", result.stdout)
    size = int(48000 * seconds)
    windows = []
    for start in range(0, len(samples) - size + 1, size):
        window = samples[start : start + size]
        rms = (sum(s * s for s in window) / size) ** 0.5 / 32768
        crossings = sum(1 for a, b in zip(window, window[1:]) if a < 0 <= b)
        windows.append((start / 48000, rms, crossings / seconds))
    return windows


def test_a_video_and_audio_file_is_sent_looped_for_longer_than_it_lasts(new_user, parley_peer, clip, tmp_path):
    alice, bob = new_user("alice"), new_user("bob")
    folder = str(tmp_path / "recordings")
    os.makedirs(folder)

    # Alice sends the 2-second clip as her video and her audio; Bob records her for 8 s from his joining.
    caller, callee, alice_conn, _ = call_between(
        alice, bob, parley_peer, caller_arguments=("--video", clip, "--audio", clip), callee_arguments=("--record", folder, "--duration", "8"),
    )
    first = callee.wait_stats(alice_conn, lambda s: decoding(s) and s["audioPacketsIn"] > 0, what="decoding Alice's video and hearing her")
    # Frames and audio still arrive more than twice the clip's length later.
    later = callee.wait(
        lambda e: e.get("event") == "stats" and e.get("conn") == alice_conn and e["_at"] >= first["_at"] + 2 * CLIP_SECONDS + 0.5,
        timeout=15, what="stats line 4.5 s on",
    )
    assert later["framesDecoded"] - first["framesDecoded"] >= 15 * 2 * CLIP_SECONDS, (first, later)
    assert later["audioPacketsIn"] - first["audioPacketsIn"] >= 25 * 2 * CLIP_SECONDS, (first, later)
    assert later["bitrateIn"] > 0, later
    recorded = callee.wait_event("recorded", conn=alice_conn, timeout=20)
    assert callee.exit_status(20) == 0, callee.describe()

    # What Bob recorded is the clip, over and over: the colour bars in every frame (neither black, which an ended
    # file leaves, nor the test pattern), moving all along, and the 1 kHz tone without a gap.
    media = probe(recorded["path"])
    streams = {s["codec_type"]: s for s in media["streams"]}
    seconds = stream_duration(streams["video"], media["format"])
    assert seconds >= 2 * CLIP_SECONDS + 0.5, f"only {seconds} s recorded: {media}"
    frames = [f for f in video_frames(recorded["path"]) if f[0] >= 0.5]
    assert len(frames) >= 15 * (seconds - 1), f"{len(frames)} frames in {seconds} s"
    dark = [f for f in frames if f[1] < 60 or f[2] < 20]
    assert not dark, f"{len(dark)} of {len(frames)} frames are not the colour bars (time, luma, saturation, change): {dark[:10]}"
    still, longest = 0, 0
    for _, _, _, change in frames:
        still = still + 1 if change < 0.5 else 0
        longest = max(longest, still)
    assert longest < 15, f"the video stood still for {longest} frames in a row"
    windows = [w for w in audio_windows(recorded["path"]) if w[0] >= 0.5]
    assert len(windows) >= 2 * (seconds - 1), windows
    wrong = [w for w in windows if w[1] < 0.1 or abs(w[2] - CLIP_TONE) > 0.1 * CLIP_TONE]
    assert not wrong, f"audio windows (start, RMS, Hz) that are not the clip's tone: {wrong}; all: {windows}"
    assert caller.wait_event("ended", timeout=20)["reason"] == "empty"
    assert caller.exit_status(20) == 0, caller.describe()


def test_a_media_file_that_cannot_be_read_fails_at_once_naming_it(new_user, tmp_path):
    user = new_user("lost")
    missing = str(tmp_path / "no-such-clip.webm")
    for kind in ("video", "audio"):
        result = user.peer_once("join", "somemeeting", f"--{kind}", missing, "--ice-address", "127.0.0.1", timeout=30)
        assert result.returncode == 1, result
        assert f"cannot read {missing}" in result.stderr, result.stderr


# MARK: --ice-address


def udp_addresses(pid):
    """The local IPv4 unicast addresses of the UDP sockets process `pid` holds, from /proc. (Multicast ones are left
    out: libnice's UPnP client listens on SSDP's 239.255.255.250, which is no host candidate.)"""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    addresses = set()
    with open(f"/proc/{pid}/net/udp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            if fields[9] in inodes:
                packed = bytes.fromhex(fields[1].split(":")[0])
                if not 224 <= packed[-1] <= 239:
                    addresses.add(".".join(str(b) for b in reversed(packed)))
    return addresses


def test_two_ice_addresses_are_both_used_and_the_call_connects(new_user, parley_peer):
    alice, bob = new_user("alice"), new_user("bob")
    # Alice's ICE agent is given 127.0.0.2 as well as PEER_OPTIONS's 127.0.0.1 (loopback holds all of 127.0.0.0/8);
    # Bob's, 127.0.0.1 alone.
    caller, callee, alice_conn, bob_conn = call_between(alice, bob, parley_peer, caller_arguments=("--ice-address", "127.0.0.2"))
    for peer, remote in ((caller, bob_conn), (callee, alice_conn)):
        peer.wait_stats(remote, lambda s: s["audioPacketsIn"] > 0 and s["bitrateIn"] > 0, what="media flowing")
    # Each ICE agent listens on the addresses it was given, and on no other.
    assert udp_addresses(caller.process.pid) == {"127.0.0.1", "127.0.0.2"}, caller.describe()
    assert udp_addresses(callee.process.pid) == {"127.0.0.1"}, callee.describe()
    caller.send("leave")
    assert caller.exit_status(20) == 0, caller.describe()
    assert callee.exit_status(20) == 0, callee.describe()


@pytest.mark.parametrize("address", ["nonsense", "127.0.0.256", "localhost", ""])
def test_an_ice_address_that_is_not_an_address_is_a_usage_error_naming_it(new_user, address):
    user = new_user("usage")
    started = time.monotonic()
    for command in (("call", f"@{user.username}"), ("join", "somemeeting")):
        result = user.peer_once(*command, "--ice-address", "127.0.0.1", "--ice-address", address, timeout=30)
        assert result.returncode == 2, result
        assert "--ice-address" in result.stderr and f"not {address}" in result.stderr, result.stderr
        assert not result.stdout, result.stdout
    # Refused before any media or network: at once.
    assert time.monotonic() - started < 10


# MARK: --stats


def test_stats_figures_are_the_calls_bitrates_frames_and_round_trip(new_user, parley_peer):
    alice, bob = new_user("alice"), new_user("bob")
    caller, callee, alice_conn, bob_conn = call_between(alice, bob, parley_peer)
    sides = {"alice": (caller, bob_conn), "bob": (callee, alice_conn)}

    # RTCP reports give a round trip within a few seconds: on loopback, more than nothing and far less than 0.5 s.
    for name, (peer, remote) in sides.items():
        stats = peer.wait_stats(remote, lambda s: s["rtt"] is not None and s["rtt"] > 0, timeout=20, what="with a round trip")
        assert isinstance(stats["rtt"], float) and stats["rtt"] < 0.5, (name, stats)

    # Four more lines on each side: a second apart, both ways the bitrates of a video call, frames decoded and
    # packets counted growing line by line, and the round trip still measured.
    lines = {}
    for name, (peer, remote) in sides.items():
        mark, lines[name] = peer.mark(), []
        for _ in range(4):
            line = peer.wait_stats(remote, lambda s: True, timeout=5, after=mark, what="a second on")
            with peer.changed:
                mark = peer.events.index(line) + 1
            lines[name].append(line)
    for name, seen in lines.items():
        for before, after in zip(seen, seen[1:]):
            assert 0.5 < after["_at"] - before["_at"] < 2, (name, before, after)
            # 30 frames a second are sent.
            assert after["framesDecoded"] - before["framesDecoded"] >= 10, (name, before, after)
            for counter in ("audioPacketsIn", "audioPacketsOut", "videoPacketsIn", "videoPacketsOut"):
                assert after[counter] > before[counter], (name, counter, before, after)
        for line in seen:
            assert line["ice"] in CONNECTED, (name, line)
            # Video at some hundred kbit/s besides Opus's 32: well above audio alone, well below a gigabit.
            assert 50_000 < line["bitrateIn"] < 20_000_000 and 50_000 < line["bitrateOut"] < 20_000_000, (name, line)
            assert isinstance(line["rtt"], float) and 0 < line["rtt"] < 0.5, (name, line)

    # What one side sends is what the other receives: Alice's bitrate out is Bob's bitrate in, within a factor of 2.
    for sender, receiver in (("alice", "bob"), ("bob", "alice")):
        sent = sum(line["bitrateOut"] for line in lines[sender]) / len(lines[sender])
        received = sum(line["bitrateIn"] for line in lines[receiver]) / len(lines[receiver])
        assert 0.5 < sent / received < 2, (sender, sent, receiver, received)

    caller.send("leave")
    assert caller.exit_status(20) == 0, caller.describe()
    assert callee.exit_status(20) == 0, callee.describe()

    # No line gave a round trip of 0 s: until one is measured, rtt is null (a receiver report sent before any sender
    # report came, with RFC 3550's LSR of 0, measures nothing).
    for name, (peer, remote) in sides.items():
        zero = [(round(s["_at"], 1), s["rtt"]) for s in peer.of("stats") if s["conn"] == remote and s["rtt"] == 0]
        assert not zero, f"{name}'s stats gave a round trip of 0 s, not null, before one was measured: (time, rtt) {zero}"
