"""`parley-peer`, the GStreamer WebRTC peer, end to end against a Parley cluster: scripts/cluster up with one API node
and two WS nodes behind HAProxy, on loopback, in a folder of its own. Its calls are with headless Chromium running
the web client (on ws-1), with the aiortc peer of e2e/webrtc (on ws-2), and with other parley-peers. Each
parley-peer's user is a profile of `parley` in a config folder of its own, as in e2e/cli. scripts/test provides
PARLEY_BIN and PARLEY_PEER_BIN; without them the debug builds are used. Every parley-peer's command, stdout and
stderr, the browser's console and screenshots, and the nodes' and HAProxy's logs go to .test/peer/."""

import asyncio
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from aiortc import AudioStreamTrack
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "webrtc"))
import terminal_user  # noqa: E402
from local_cluster import ROOT, Cluster  # noqa: E402
from parley_peer import Peer  # noqa: E402
from terminal_user import BINARY, PASSWORD  # noqa: E402

PEER_BINARY = os.environ.get("PARLEY_PEER_BIN", os.path.join(ROOT, ".build", "debug", "parley-peer"))
ARTIFACTS = os.path.join(ROOT, ".test", "peer")
# What every long-running parley-peer here is given: loopback for ICE (the namespace has nothing else), a stats line
# per second per peer, and JSON lines.
PEER_OPTIONS = ("--ice-address", "127.0.0.1", "--stats", "--json")


def _browser_setup():
    """e2e/browser's conftest, for its Chromium (flags, fake camera and microphone) and console log; loaded under a
    name of its own, since this folder's conftest is `conftest` too."""
    spec = importlib.util.spec_from_file_location("browser_setup", os.path.join(HERE, "..", "browser", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


browser_setup = _browser_setup()


@pytest.fixture(scope="session")
def cluster(request):
    os.makedirs(ARTIFACTS, exist_ok=True)

    def keep_logs(cluster):
        for name in ("api-1", "ws-1", "ws-2", "haproxy"):
            with open(os.path.join(ARTIFACTS, f"{name}.log"), "w") as file:
                file.write(cluster.run("logs", name))

    cluster = Cluster(prefix="parley-peer-", PARLEY_BIN=BINARY, PARLEY_REGISTER_LIMIT="1000")
    with cluster.running(request, "--api", "1", "--ws", "2", before_down=keep_logs):
        yield cluster


# MARK: Users and parley-peer


class User(terminal_user.User):
    """One person at a machine of their own: `parley` and `parley-peer` with a config folder of their own."""

    def peer_once(self, *arguments, timeout=60):
        """parley-peer run to its end, for the commands that fail at once."""
        return subprocess.run([PEER_BINARY, *arguments], env=self.environment, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def homes(tmp_path_factory):
    """The folder the users' config folders go in."""
    return tmp_path_factory.mktemp("homes")


def make_user(cluster, homes, prefix):
    def folder(username):
        path = os.path.join(str(homes), username)
        os.makedirs(path)
        return path

    return terminal_user.register(cluster, prefix, folder, User)


@pytest.fixture
def new_user(cluster, homes):
    """Makes a registered, signed-in user: new_user("bot")."""
    return lambda prefix: make_user(cluster, homes, prefix)


class PeerProcess:
    """One running parley-peer: its stdout's JSON lines as events, kept in order, its stderr kept, and its stdin open
    for commands (`mute audio`, `leave`)."""

    def __init__(self, user, arguments):
        self.user = user
        self.arguments = [PEER_BINARY, *arguments]
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.arguments, env=user.environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.events = []
        self.stderr = []
        self.changed = threading.Condition()
        self.stdout_done = False
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for line in self.process.stdout:
            line = line.rstrip("\n")
            try:
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise ValueError
            except ValueError:
                # Not one JSON object: kept, so that the test that reads it fails on it with the line in view.
                event = {"event": None, "line": line}
            event["_at"] = time.monotonic() - self.started
            with self.changed:
                self.events.append(event)
                self.changed.notify_all()
        with self.changed:
            self.stdout_done = True
            self.changed.notify_all()

    def _read_stderr(self):
        for line in self.process.stderr:
            with self.changed:
                self.stderr.append(line.rstrip("\n"))
                self.changed.notify_all()

    # MARK: Reading

    def describe(self, events=25, errors=40):
        """The command, its status, and the tails of its output, for a failure's message."""
        status = self.process.poll()
        with self.changed:
            shown = [json.dumps({k: v for k, v in e.items() if k != "_at"}) for e in self.events[-events:]]
            stderr = self.stderr[-errors:]
        return (
            f"$ {' '.join(self.arguments)}\n(status {'running' if status is None else status})\n"
            f"-- stdout, last {len(shown)} lines:\n" + "\n".join(shown) + f"\n-- stderr, last {len(stderr)} lines:\n" + "\n".join(stderr)
        )

    def mark(self):
        """How many events so far: `wait(..., after=mark)` looks only at the ones after."""
        with self.changed:
            return len(self.events)

    def wait(self, predicate, timeout=30, what="the line awaited", after=0):
        """The first event from `after` on that `predicate` accepts, seen or yet to come."""
        deadline = time.monotonic() + timeout
        with self.changed:
            index = after
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if predicate(event):
                        return event
                if self.stdout_done:
                    raise AssertionError(f"parley-peer ended its output without {what}\n{self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"parley-peer printed no {what} within {timeout} s\n{self.describe()}")
                self.changed.wait(remaining)

    def wait_event(self, name, timeout=30, after=0, **fields):
        """The first `name` event whose fields include `fields`."""
        return self.wait(
            lambda e: e.get("event") == name and all(e.get(k) == v for k, v in fields.items()),
            timeout, f"{name} event with {fields}", after,
        )

    def wait_stats(self, conn, predicate, timeout=40, what="", after=0):
        """The first stats line about the peer `conn` that `predicate` accepts."""
        return self.wait(lambda e: e.get("event") == "stats" and e.get("conn") == conn and predicate(e), timeout, f"stats line for {conn} {what}", after)

    def wait_stderr(self, predicate, timeout=30, what="the line awaited"):
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.stderr:
                    if predicate(line):
                        return line
                if self.process.poll() is not None and self.stdout_done:
                    raise AssertionError(f"parley-peer exited without {what} on stderr\n{self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"parley-peer wrote no {what} to stderr within {timeout} s\n{self.describe()}")
                self.changed.wait(min(remaining, 0.5))

    def of(self, name):
        with self.changed:
            return [e for e in self.events if e.get("event") == name]

    # MARK: Driving

    def send(self, command):
        """One command on stdin."""
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def exit_status(self, timeout):
        """Waits for the process to end; its exit status."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"parley-peer still runs {timeout} s on\n{self.describe()}") from None
        # The readers have what was written before the exit.
        deadline = time.monotonic() + 5
        with self.changed:
            while not self.stdout_done and time.monotonic() < deadline:
                self.changed.wait(0.2)
        return status

    def kill(self):
        """SIGKILL: the peer vanishes, its sockets closed by the kernel."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdin:
            try:
                self.process.stdin.close()
            except OSError:
                pass


@pytest.fixture
def parley_peer(request):
    """Starts parley-peer for a user: parley_peer(user, "answer", "--duration", "6"), with PEER_OPTIONS after the
    arguments. Each is stopped after the test (SIGTERM, then SIGKILL), and its output written to .test/peer/."""
    started = []

    def start(user, *arguments):
        process = PeerProcess(user, [*arguments, *PEER_OPTIONS])
        started.append(process)
        return process

    yield start
    os.makedirs(ARTIFACTS, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    for number, process in enumerate(started, 1):
        process.stop()
        with open(os.path.join(ARTIFACTS, f"{name}-{number}.log"), "w") as file:
            file.write(process.describe(events=100_000, errors=100_000) + "\n")


# MARK: aiortc


class TalkingPeer(Peer):
    """The aiortc peer of e2e/webrtc with a microphone too (aiortc's silent track, Opus-encoded all the same),
    counting the audio frames it decodes from each remote."""

    def __init__(self, *arguments):
        super().__init__(*arguments)
        self.audio_frames = {}

    def new_pc(self, remote):
        pc = super().new_pc(remote)
        pc.addTrack(AudioStreamTrack())
        self.audio_frames[remote] = 0

        @pc.on("track")
        def on_audio(track):
            if track.kind == "audio":
                asyncio.create_task(self.count_audio(remote, track))

        return pc

    async def count_audio(self, remote, track):
        try:
            while True:
                await track.recv()
                self.audio_frames[remote] += 1
        except Exception:
            pass

    async def until_connected(self, remote, timeout=30):
        """As Peer's, but also waiting for the peer connection to `remote` to exist: when `remote` is the newcomer,
        its offer may still be on its way."""
        deadline = time.monotonic() + timeout
        while remote not in self.connected:
            assert time.monotonic() < deadline, f"{self.name}: no offer from {remote} within {timeout} s"
            await asyncio.sleep(0.1)
        try:
            await super().until_connected(remote, max(1.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            pc = self.pcs.get(remote)
            raise AssertionError(f"{self.name}: the peer connection to {remote} is {pc and pc.connectionState} after {timeout} s") from None

    async def until_heard(self, remote, timeout=30):
        """Waits until some of `remote`'s audio is decoded."""
        deadline = time.monotonic() + timeout
        while self.audio_frames.get(remote, 0) < 10:
            assert time.monotonic() < deadline, f"{self.name}: only {self.audio_frames.get(remote, 0)} audio frames decoded from {remote}"
            await asyncio.sleep(0.1)


class AioPeers:
    """aiortc peers on an event loop in a thread of their own, so that they go on sending and answering while a
    test blocks on Selenium or on a parley-peer's output."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.peers = []

    def run(self, coroutine, timeout=60):
        """Runs `coroutine` on the peers' loop and returns its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def peer(self, name, node):
        """A signed-up aiortc peer, connected through HAProxy to WS node `node`."""

        async def make():
            peer = TalkingPeer(self.cluster.base_url, f"ws://127.0.0.1:{self.cluster.port}/ws?node={node}", name)
            await peer.sign_up()
            await peer.connect()
            return peer

        peer = self.run(make())
        self.peers.append(peer)
        return peer

    def close(self):
        for peer in self.peers:
            try:
                self.run(peer.close(), 15)
            except Exception:
                pass

        async def cancel_the_rest():
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_the_rest(), 15)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


@pytest.fixture
def aio(cluster):
    peers = AioPeers(cluster)
    yield peers
    peers.close()


# MARK: Chromium


class Web:
    """The web client in headless Chromium, signed in as one user, asking for ws-1."""

    IGNORED = (
        StaleElementReferenceException,
        NoSuchElementException,
        ElementClickInterceptedException,
        ElementNotInteractableException,
        IndexError,
    )

    def __init__(self, browser, username):
        self.browser = browser
        self.username = username

    def wait(self, condition, timeout=20, message=""):
        """Waits until `condition()` is truthy and returns it; the page redraws as events arrive, so elements may go
        stale meanwhile."""
        return WebDriverWait(self.browser, timeout, poll_frequency=0.2, ignored_exceptions=self.IGNORED).until(lambda _: condition(), message)

    def element(self, id):
        return self.browser.find_element(By.ID, id)

    def shown(self, id):
        return self.element(id).is_displayed()

    def click(self, find, message="", timeout=20):
        """Clicks what `find()` returns (an element, or an id), once it is there and clickable."""

        def clicked():
            element = find() if callable(find) else self.element(find)
            if element is None:
                return False
            element.click()
            return True

        self.wait(clicked, timeout, message or f"could not click {find}")

    def script(self, source, *arguments):
        return self.browser.execute_script(source, *arguments)

    @property
    def conn(self):
        return self.script("return window.parley.conn")

    @property
    def call(self):
        """window.parley's snapshot of the call: id, media, attendees (conns), peers ({conn: connectionState})."""
        return self.script("return window.parley.call")

    def open_room(self, room):
        self.click(lambda: self.browser.find_element(By.CSS_SELECTOR, f"button.room[data-room='{room}']"), f"no room {room} in the list")
        self.wait(lambda: self.script("return window.parley.current") == room, message=f"room {room} did not open")

    INBOUND = """
    const done = arguments[arguments.length - 1];
    if (!window.parley.call) return done(null);
    window.parley.callStats().then((stats) => {
      const totals = { audio: 0, video: 0 };
      for (const s of stats) {
        if (s.type !== "inbound-rtp") continue;
        if (s.kind === "audio") totals.audio += s.packetsReceived || 0;
        if (s.kind === "video") totals.video += s.framesDecoded || 0;
      }
      done(totals);
    }, () => done(null));
    """

    def inbound(self):
        """Over the call's peer connections: {"audio": inbound audio packets received, "video": video frames
        decoded} (RTCPeerConnection.getStats through window.parley.callStats), or None outside a call."""
        return self.browser.execute_async_script(self.INBOUND)

    TILE = """
    const tile = document.querySelector(`#grid .tile[data-conn="${arguments[0]}"]`);
    if (!tile) return null;
    return { audio: tile.dataset.audio, video: tile.dataset.video, width: tile.querySelector("video").videoWidth,
             caption: tile.querySelector("figcaption").innerText };
    """

    def tile(self, conn):
        """The call screen's tile of the attendee `conn`: its data-audio and data-video ("true"/"false"), its
        video's width (0 until frames are decoded) and its caption; None when there is none."""
        return self.script(self.TILE, conn)

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.browser.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))

    def idle(self):
        """Out of any call, and no call ringing."""
        if self.shown("incoming"):
            self.click("decline-call")
        if self.call is not None:
            self.click("leave-call")
        self.wait(lambda: self.call is None and not self.shown("call") and not self.shown("incoming"), message="the browser did not leave its call")


@pytest.fixture(scope="session")
def web_session(cluster):
    browser = browser_setup.chromium()
    try:
        username = f"web{uuid.uuid4().hex[:8]}"
        web = Web(browser, username)
        browser.get(cluster.url("ws-1"))
        web.wait(lambda: web.shown("auth"))
        web.click("to-sign-up")
        form = web.element("sign-up-form")
        web.wait(form.is_displayed)
        form.find_element(By.NAME, "username").send_keys(username)
        form.find_element(By.NAME, "name").send_keys("Webb")
        form.find_element(By.NAME, "password").send_keys(PASSWORD)
        web.element("sign-up").click()
        web.wait(lambda: web.shown("app"), message="sign-up failed")
        web.wait(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-1", message="no hello from ws-1")
        yield web
    finally:
        os.makedirs(ARTIFACTS, exist_ok=True)
        with open(os.path.join(ARTIFACTS, "browser-console.log"), "w") as file:
            for entry in browser_setup.console(browser):
                file.write(f"{entry['level']} {entry['message']}\n")
        browser.quit()


@pytest.fixture
def web(web_session):
    """The session's browser, out of any call before and after the test."""
    web_session.idle()
    yield web_session
    web_session.idle()


# MARK: Recordings


def probe(path):
    """ffprobe's streams and format of a media file."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, f"ffprobe {path}: {result.stderr}"
    return json.loads(result.stdout)


def stream_duration(stream, format):
    """A stream's length in seconds: its own duration, else Matroska's DURATION tag ("00:00:05.960000000"), else the
    file's."""
    if stream.get("duration") not in (None, "N/A"):
        return float(stream["duration"])
    tag = {k.upper(): v for k, v in stream.get("tags", {}).items()}.get("DURATION")
    if tag:
        hours, minutes, seconds = tag.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    assert format.get("duration") not in (None, "N/A"), f"no duration in {stream} nor in {format}"
    return float(format["duration"])
