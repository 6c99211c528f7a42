"""The `parley` client commands against a Parley cluster: scripts/cluster up with one API node and two WS nodes
behind HAProxy, on loopback, in a folder of its own. Each user is a profile in a config folder of its own
(XDG_CONFIG_HOME), as two people on two machines would be. scripts/test provides PARLEY_BIN; without it the debug
build is used."""

import os
import pty
import queue
import select
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import terminal_user  # noqa: E402
from local_cluster import Cluster  # noqa: E402
from terminal_user import BINARY, PASSWORD  # noqa: E402, F401


# The largest file the suite's cluster takes: small, so that test_files can go over it cheaply.
FILE_MAX_BYTES = 1 << 20


@pytest.fixture(scope="session")
def cluster(request):
    cluster = Cluster(prefix="parley-cli-", PARLEY_BIN=BINARY, PARLEY_REGISTER_LIMIT="1000", PARLEY_FILE_MAX_BYTES=str(FILE_MAX_BYTES))
    # Files in the cluster's own folder, which every node shares.
    cluster.files = os.path.join(cluster.folder, "files")
    cluster.environment["PARLEY_FILES"] = f"dir:{cluster.files}"
    with cluster.running(request, "--api", "1", "--ws", "2"):
        yield cluster


class User(terminal_user.User):
    """One person at a terminal: `parley` with a config folder of its own."""

    def start(self, *arguments):
        return Follower(subprocess.Popen([BINARY, *arguments], env=self.environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


class Follower:
    """A long-running `parley` (tail) whose stdout and stderr lines are read as they come."""

    def __init__(self, process):
        self.process = process
        self.stdout = queue.Queue()
        self.stderr = queue.Queue()
        for stream, lines in ((process.stdout, self.stdout), (process.stderr, self.stderr)):
            threading.Thread(target=lambda s=stream, q=lines: [q.put(line.rstrip("\n")) for line in s], daemon=True).start()

    def line(self, lines, timeout=20):
        return lines.get(timeout=timeout)

    def stderr_until(self, predicate, timeout=20):
        while True:
            line = self.stderr.get(timeout=timeout)
            if predicate(line):
                return line

    def stop(self):
        self.process.kill()
        self.process.wait()

class TerminalSession:
    """`parley ARGUMENTS` on a pseudo-terminal of its own, as a person at a terminal runs it."""

    def __init__(self, user, *arguments):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen([BINARY, *arguments], env=user.environment, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.screen = ""

    def expect(self, text, timeout=20):
        """Waits until `text` is on the screen."""
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} never came; the screen:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    raise AssertionError(f"parley ended before {text!r}; the screen:\n{self.screen}")

    def type(self, keys):
        os.write(self.master, keys.encode())

    def exit_status(self, timeout=20):
        status = self.process.wait(timeout=timeout)
        os.close(self.master)
        return status


def new_user(cluster, prefix):
    return terminal_user.register(cluster, prefix, lambda _: tempfile.mkdtemp(prefix=f"parley-cli-{prefix}-"), User)


@pytest.fixture
def alice(cluster):
    return new_user(cluster, "alice")


@pytest.fixture
def bob(cluster):
    return new_user(cluster, "bob")


@pytest.fixture
def pair(alice, bob):
    """Alice and Bob, contacts, and the id of their direct room."""
    import json
    contact = json.loads(alice.ok("contacts", "add", bob.username, "--json"))
    return alice, bob, contact["room"]
