"""One embedded Parley node (SQLite, the in-process bus) for the hostile-client tests, with low limits so that each
attack reaches them quickly, and an open-file limit of 2048 so that a descriptor leak shows. After every test that
passed, the node must still answer /healthz within a second and have grown less than 64 MiB over its starting RSS;
a node that a failed test left dead or unresponsive is started again for the next one. scripts/test provides
PARLEY_BIN; without it the debug build is used."""

import http.client
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from wire import HOST, call

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("PARLEY_BIN", os.path.join(ROOT, ".build", "debug", "parley"))
MiB = 1 << 20
RSS_GROWTH = 64 * MiB
OPEN_FILES = 2048

LIMITS = {
    "PARLEY_HEAD_TIMEOUT": "2",
    "PARLEY_BODY_TIMEOUT": "2",
    "PARLEY_IDLE_TIMEOUT": "3",
    "PARLEY_MAX_SOCKETS_PER_USER": "4",
    "PARLEY_MAX_CONNECTIONS_PER_ADDRESS": "64",
    "PARLEY_LOGIN_BACKOFF": "1",
    "PARLEY_SOCKET_BUFFER_BYTES": "262144",
    # The suite registers a few dozen users from 127.0.0.1; the registration throttle is not what it tests.
    "PARLEY_REGISTER_LIMIT": "1000",
}


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def limit_open_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


class NodeExited(RuntimeError):
    pass


class Node:
    """`parley serve` as a child process, on a free loopback port, with its SQLite file in `folder`."""

    def __init__(self, folder, environment=None, name="node"):
        self.folder = folder
        self.name = name
        self.environment = {
            **os.environ,
            "PARLEY_SQLITE_PATH": os.path.join(folder, "parley.sqlite"),
            "PARLEY_PASSWORD_COST": "4",
            "PARLEY_JWT_SECRET": secrets.token_hex(32),
            "PARLEY_NODE_ID": name,
            **LIMITS,
            **(environment or {}),
        }
        self.process = None
        self.port = None
        self.starting_rss = None
        self.starts = 0

    @property
    def pid(self):
        return self.process.pid

    def start(self, timeout=60, attempts=3):
        """Starts the node on a free port and waits for /healthz. A node that exits at once (another process took the
        port between its pick and the bind, say) is tried again on another port."""
        for attempt in range(attempts):
            try:
                return self._start(timeout)
            except NodeExited:
                if attempt == attempts - 1:
                    raise

    def _start(self, timeout):
        self.port = free_port()
        self.starts += 1
        self.log = os.path.join(self.folder, f"{self.name}-{self.starts}.log")
        self.process = subprocess.Popen(
            [BINARY, "serve"], env={**self.environment, "PARLEY_PORT": str(self.port)}, stdout=open(self.log, "w"),
            stderr=subprocess.STDOUT, preexec_fn=limit_open_files)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NodeExited(f"the node exited with {self.process.returncode}:\n{self.tail()}")
            if self.healthy(timeout=1):
                self.starting_rss = self.rss()
                return
            time.sleep(0.2)
        raise RuntimeError(f"the node did not answer /healthz within {timeout} s:\n{self.tail()}")

    def tail(self, size=3000):
        with open(self.log, errors="replace") as file:
            return file.read()[-size:]

    def health(self, timeout=1.0):
        """What GET /healthz got within `timeout`, connection included: the reply, or the error."""
        try:
            return call(self.port, "GET", "/healthz", timeout=timeout)
        except (OSError, http.client.HTTPException) as error:
            return error

    def healthy(self, timeout=1.0):
        reply = self.health(timeout)
        return getattr(reply, "status", None) == 200

    def status(self, field):
        """A `/proc/PID/status` figure in bytes (VmRSS, VmHWM)."""
        with open(f"/proc/{self.pid}/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(field)

    def rss(self):
        return self.status("VmRSS")

    def reset_peak(self):
        """Starts VmHWM (the peak RSS) again from the current RSS."""
        with open(f"/proc/{self.pid}/clear_refs", "w") as file:
            file.write("5")

    def peak(self):
        return self.status("VmHWM")

    def open_files(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def check(self):
        """What every test leaves behind: a node that answers and has not grown by 64 MiB."""
        assert self.process.poll() is None, f"the node exited with {self.process.returncode}:\n{self.tail()}"
        started, reply = time.monotonic(), self.health(timeout=1.0)
        assert getattr(reply, "status", None) == 200, (
            f"/healthz did not answer 200 within 1 s: {reply!r} after {time.monotonic() - started:.1f} s")
        growth = self.rss() - self.starting_rss
        assert growth < RSS_GROWTH, f"RSS grew by {growth / MiB:.0f} MiB since the node started"

    def terminate(self, timeout=10.0):
        """SIGTERM; returns the seconds the node took to exit, or None when it was still running after `timeout`
        (it is then killed)."""
        if self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
            return time.monotonic() - started
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart_if_broken(self):
        """A node that an earlier failure left dead or unresponsive (its descriptors gone, say) is killed and started
        again, with the same database, so that one missing defence does not fail every test after it."""
        if self.process.poll() is None and self.healthy(timeout=2.0):
            return
        self.kill()
        self.start()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def server(request):
    """The session's node. test_shutdown.py stops it last with SIGTERM and checks that it exits within 10 s; if that
    test did not run, the teardown checks it instead."""
    folder = tempfile.mkdtemp(prefix="parley-hostile-")
    node = Node(folder)
    node.start()
    try:
        yield node
    finally:
        still_running = node.process.poll() is None
        taken = node.terminate()
        # Logs are kept only when a test failed.
        if request.session.testsfailed == 0:
            shutil.rmtree(folder, ignore_errors=True)
        if still_running:
            assert taken is not None, "the node did not exit within 10 s of SIGTERM"


@pytest.fixture
def node(server, request):
    """The session's node, checked after the test."""
    server.restart_if_broken()
    server.reset_peak()
    yield server
    call_report = getattr(request.node, "report_call", None)
    if call_report is not None and call_report.passed:
        server.check()


class Peak:
    """The node's RSS before an attack, and how far above it the node went during the attack (VmHWM)."""

    def __init__(self, node):
        self.node = node
        self.before = node.rss()
        node.reset_peak()

    @property
    def growth(self):
        return self.node.peak() - self.before


# Users, rooms and messages.

def unique(prefix):
    return f"{prefix}{secrets.token_hex(5)}"


def register(node, prefix="u", name=None, source=HOST, **extra):
    """A new user and their first session: {id, username, password, name, access, refresh}."""
    username, password = unique(prefix), "correct horse " + secrets.token_hex(4)
    reply = call(node.port, "POST", "/api/auth/register",
                 {"username": username, "password": password, "name": name or username, **extra}, source=source)
    assert reply.status == 201, reply
    body = reply.json
    return {"id": body["user"]["id"], "username": username, "password": password, "name": body["user"]["name"],
            "access": body["accessToken"], "refresh": body.get("refreshToken")}


def login(node, user, source=HOST):
    """Another session of `user`: {access, refresh}."""
    reply = call(node.port, "POST", "/api/auth/login", {"username": user["username"], "password": user["password"]},
                 source=source)
    assert reply.status == 200, reply
    return {"access": reply.json["accessToken"], "refresh": reply.json["refreshToken"]}


def group(node, owner, members, name="a group"):
    reply = call(node.port, "POST", "/api/rooms", {"name": name, "members": [user["id"] for user in members]},
                 token=owner["access"])
    assert reply.status == 201, reply
    return reply.json["room"]["id"]


def send(node, user, room, text, deadline):
    """Sends one message over REST; a 429 waits for its Retry-After and tries again, until `deadline`."""
    body = {"clientId": str(uuid.uuid4()), "text": text}
    while True:
        reply = call(node.port, "POST", f"/api/rooms/{room}/messages", body, token=user["access"])
        if reply.status != 429 or time.monotonic() > deadline:
            assert reply.status == 201, reply
            return reply.json
        time.sleep(min(float(reply.headers.get("retry-after", "1")), 2.0))


def fill(node, room, senders, count, text, seconds=120):
    """`count` messages in `room`, sent by `senders` in parallel (the REST send throttle is per user)."""
    deadline = time.monotonic() + seconds
    errors = []

    def run(user, share):
        try:
            for _ in range(share):
                send(node, user, room, text, deadline)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    shares = [count // len(senders) + (1 if index < count % len(senders) else 0) for index in range(len(senders))]
    threads = [threading.Thread(target=run, args=(user, share)) for user, share in zip(senders, shares)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds)
    assert not errors, errors[0]
