"""A WebRTC peer that signals only through Parley: aiortc for the media, Parley's REST API and WebSocket protocol
for everything else. The tests in this folder drive several of them, on different WS nodes."""

import asyncio
import fractions
import json
import re
import time
import urllib.error
import urllib.request
import uuid

import aioice.ice
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

# Inside the test's network namespace there is only loopback, and aioice leaves 127.0.0.1 out of its host
# candidates: give it that address alone.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class ParleyError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


def rest(base, method, path, body=None, token=None):
    """One REST call; returns the decoded JSON answer or raises ParleyError with the answer's code."""
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read() or b"{}").get("error", {})
        raise ParleyError(answer.get("code", str(error.code)), answer.get("message", "")) from None


class MovingVideo(VideoStreamTrack):
    """A small test pattern that changes every frame, so that the encoder has something to send."""

    def __init__(self):
        super().__init__()
        self.count = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        self.count += 1
        frame = VideoFrame(width=160, height=120, format="yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(self.count * 7) % 256]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def split_candidates(sdp):
    """Takes the candidates out of a session description, so that they travel as `candidate` signals instead:
    returns the description without them, and [(mid, m-line index, candidate line)]."""
    kept, candidates, mid, index = [], [], None, -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            candidates.append((mid, index, line[2:]))
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


class Peer:
    """A user with one WebSocket connection to a WS node, and a peer connection per other attendee."""

    def __init__(self, api, ws_url, name):
        self.api, self.ws_url, self.name = api, ws_url, name
        self.username = f"{name}{uuid.uuid4().hex[:8]}"
        self.events = []
        self.arrived = asyncio.Condition()
        self.replies = {}
        self.next_id = 0
        self.pcs = {}
        self.connected = {}
        self.frames = {}
        self.echoes = {}
        self.signals = {}
        self.meeting = None

    # MARK: Parley

    async def sign_up(self):
        session = await asyncio.to_thread(
            rest, self.api, "POST", "/api/auth/register", {"username": self.username, "password": "password123", "name": self.name}
        )
        self.token, self.user = session["accessToken"], session["user"]["id"]

    async def call(self, method, path, body=None):
        return await asyncio.to_thread(rest, self.api, method, path, body, self.token)

    async def connect(self):
        self.socket = await websockets.connect(self.ws_url, subprotocols=["parley.v1", f"bearer.{self.token}"], max_size=1 << 20)
        self.reader = asyncio.create_task(self.read())
        hello = await self.wait("hello")
        self.conn, self.node = hello["conn"], hello["node"]

    async def read(self):
        try:
            async for text in self.socket:
                frame = json.loads(text)
                if "re" in frame and frame["re"] in self.replies:
                    self.replies.pop(frame["re"]).set_result(frame)
                elif frame.get("type") == "signal":
                    self.signals.setdefault(frame["from"], asyncio.Queue()).put_nowait(frame)
                    if frame["from"] not in self.pcs and frame["kind"] == "offer":
                        self.pcs[frame["from"]] = None
                        asyncio.create_task(self.answer_peer(frame["from"]))
                else:
                    async with self.arrived:
                        self.events.append(frame)
                        self.arrived.notify_all()
        except websockets.ConnectionClosed:
            pass

    async def request(self, frame):
        """Sends a frame and returns its reply; an error reply raises ParleyError."""
        self.next_id += 1
        frame_id = f"{self.name}{self.next_id}"
        reply = asyncio.get_running_loop().create_future()
        self.replies[frame_id] = reply
        await self.socket.send(json.dumps({**frame, "id": frame_id}))
        answer = await asyncio.wait_for(reply, 20)
        if not answer.get("ok"):
            raise ParleyError(answer["error"]["code"], answer["error"]["message"])
        return answer

    async def wait(self, type, match=lambda frame: True, timeout=20):
        """Returns the first event of `type` that `match` accepts, seen or yet to come; the others stay."""
        deadline = time.monotonic() + timeout
        async with self.arrived:
            while True:
                for frame in self.events:
                    if frame.get("type") == type and match(frame):
                        self.events.remove(frame)
                        return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: no {type} within {timeout} s; saw {[e.get('type') for e in self.events]}")
                try:
                    await asyncio.wait_for(self.arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    pass

    async def join(self, meeting):
        """Joins with this connection, and offers to every attendee already there: the newcomer calls."""
        self.meeting = meeting
        reply = await self.request({"type": "meeting.join", "meeting": meeting})
        others = [a["conn"] for a in reply["meeting"]["attendees"] if a["conn"] != self.conn]
        for conn in others:
            await self.offer_peer(conn)
        return reply["meeting"]

    async def next_signal(self, remote, timeout=10):
        """The next signal from `remote` that no peer connection took."""
        queue = self.signals.setdefault(remote, asyncio.Queue())
        return await asyncio.wait_for(queue.get(), timeout)

    async def signal(self, to, kind, payload):
        await self.request({"type": "signal", "meeting": self.meeting, "to": to, "kind": kind, "payload": payload})

    # MARK: WebRTC

    def new_pc(self, remote):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs[remote] = pc
        self.connected[remote] = asyncio.Event()
        self.frames[remote] = 0
        pc.addTrack(MovingVideo())

        @pc.on("connectionstatechange")
        def on_state():
            if pc.connectionState == "connected":
                self.connected[remote].set()

        @pc.on("track")
        def on_track(track):
            if track.kind == "video":
                asyncio.create_task(self.count_frames(remote, track))

        return pc

    async def count_frames(self, remote, track):
        try:
            while True:
                frame = await track.recv()
                if frame.width > 0:
                    self.frames[remote] += 1
        except Exception:
            pass

    async def send_description(self, remote, pc):
        """Sends the local description, then its candidates one by one and their end, all through Parley."""
        sdp, candidates = split_candidates(pc.localDescription.sdp)
        await self.signal(remote, pc.localDescription.type, {"type": pc.localDescription.type, "sdp": sdp})
        for mid, index, line in candidates:
            await self.signal(remote, "candidate", {"candidate": line, "sdpMid": mid, "sdpMLineIndex": index})
        await self.signal(remote, "candidate", {"candidate": "", "sdpMid": None, "sdpMLineIndex": None})

    async def apply(self, pc, frame):
        payload = frame["payload"]
        if frame["kind"] in ("offer", "answer"):
            await pc.setRemoteDescription(RTCSessionDescription(sdp=payload["sdp"], type=payload["type"]))
        elif frame["kind"] == "candidate":
            if payload["candidate"]:
                candidate = candidate_from_sdp(payload["candidate"].removeprefix("candidate:"))
                candidate.sdpMid, candidate.sdpMLineIndex = payload["sdpMid"], payload["sdpMLineIndex"]
                await pc.addIceCandidate(candidate)
            else:
                await pc.addIceCandidate(None)

    async def offer_peer(self, remote):
        pc = self.new_pc(remote)
        channel = pc.createDataChannel("chat")
        self.echoes[remote] = asyncio.get_running_loop().create_future()

        @channel.on("open")
        def on_open():
            channel.send(f"ping from {self.name}")

        @channel.on("message")
        def on_message(message):
            if not self.echoes[remote].done():
                self.echoes[remote].set_result(message)

        await pc.setLocalDescription(await pc.createOffer())
        await self.send_description(remote, pc)
        asyncio.create_task(self.apply_signals(remote, pc))

    async def answer_peer(self, remote):
        pc = self.new_pc(remote)

        @pc.on("datachannel")
        def on_channel(channel):
            @channel.on("message")
            def on_message(message):
                channel.send(f"echo: {message}")

        queue = self.signals[remote]
        await self.apply(pc, await queue.get())
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send_description(remote, pc)
        await self.apply_signals(remote, pc)

    async def apply_signals(self, remote, pc):
        queue = self.signals.setdefault(remote, asyncio.Queue())
        while True:
            frame = await queue.get()
            if frame["kind"] == "bye":
                return
            await self.apply(pc, frame)

    async def until_connected(self, remote, timeout=30):
        """Waits until the peer connection to `remote` is connected and has decoded some of its video."""
        await asyncio.wait_for(self.connected[remote].wait(), timeout)
        deadline = time.monotonic() + timeout
        while self.frames[remote] < 10:
            assert time.monotonic() < deadline, f"{self.name}: only {self.frames[remote]} frames decoded from {remote}"
            await asyncio.sleep(0.1)

    async def close(self):
        for pc in self.pcs.values():
            if pc:
                await pc.close()
        await self.socket.close()
        self.reader.cancel()
