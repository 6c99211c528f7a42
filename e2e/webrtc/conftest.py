"""A Parley cluster for the WebRTC tests: a database of its own in the test Postgres, the test Redis, one API node,
two WS nodes as separate processes, and coturn with a shared secret, all on loopback. scripts/test provides
PARLEY_BIN, PARLEY_TEST_DATABASE_URL and PARLEY_TEST_REDIS_URL, and runs these tests in a network namespace that
has only loopback."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

TURN_SECRET = secrets.token_hex(16)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url, process, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{open(log).read()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready:\n{open(log).read()[-3000:]}")


class Cluster:
    def __init__(self, folder):
        self.folder = folder
        self.nodes = {}
        self.processes = {}
        run = secrets.token_hex(3)
        base = os.environ["PARLEY_TEST_DATABASE_URL"]
        database = f"webrtc_{run}"
        subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {database}"], check=True)
        self.turn_port = free_port()
        self.environment = {
            **os.environ,
            "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + database,
            "REDIS_URL": os.environ["PARLEY_TEST_REDIS_URL"],
            "PARLEY_JWT_SECRET": "webrtc-test-signing-key-of-32-bytes-or-more",
            "PARLEY_PASSWORD_COST": "4",
            "PARLEY_MIGRATE": "0",
            "PARLEY_TURN_SECRET": TURN_SECRET,
            "PARLEY_TURN_URIS": f"turn:127.0.0.1:{self.turn_port}?transport=udp",
            "PARLEY_TURN_TTL": "600",
        }
        subprocess.run([os.environ["PARLEY_BIN"], "migrate"], env=self.environment, check=True, capture_output=True)
        self.run = run

    def start(self, name, role):
        port = free_port()
        log = os.path.join(self.folder, f"{name}.log")
        environment = {**self.environment, "PARLEY_PORT": str(port), "PARLEY_ROLE": role, "PARLEY_NODE_ID": f"{name}-{self.run}"}
        process = subprocess.Popen([os.environ["PARLEY_BIN"]], env=environment, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        self.processes[name] = process
        self.nodes[name] = f"http://127.0.0.1:{port}"
        wait_until_up(self.nodes[name], process, log)

    def ws(self, name):
        return self.nodes[name].replace("http://", "ws://") + "/ws"

    def kill(self, name):
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def cluster(request):
    folder = tempfile.mkdtemp(prefix="parley-webrtc-")
    cluster = Cluster(folder)
    try:
        cluster.start("api-1", "api")
        cluster.start("ws-1", "ws")
        cluster.start("ws-2", "ws")
        yield cluster
    finally:
        cluster.stop()
        # The nodes' and coturn's logs are kept only when a test failed.
        if request.session.testsfailed == 0:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def coturn(cluster):
    """coturn on loopback, checking TURN credentials against the secret Parley signs them with."""
    log = os.path.join(cluster.folder, "coturn.log")
    process = subprocess.Popen(
        [
            "turnserver", "-n", "--listening-ip=127.0.0.1", f"--listening-port={cluster.turn_port}", "--relay-ip=127.0.0.1",
            "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}", "--realm=parley.test", "--no-tls", "--no-dtls",
            "--no-cli", "--allow-loopback-peers", "--min-port=49200", "--max-port=49300", f"--log-file={log}", "--simple-log",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    time.sleep(1)
    assert process.poll() is None, open(log).read() if os.path.exists(log) else "turnserver exited"
    yield cluster.turn_port
    process.terminate()
    process.wait(timeout=10)
