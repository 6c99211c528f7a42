"""A Parley cluster on loopback for the end-to-end suites: `scripts/cluster` in a folder of its own (Postgres, Redis,
nodes and HAProxy on free ports), driven through its commands."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, prefix="parley-cluster-", **settings):
        """`settings`: more of the nodes' environment, such as a throttle lifted for a suite's many sign-ups."""
        self.folder = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.environment = {**os.environ, "PARLEY_CLUSTER_DIR": self.folder, "PARLEY_PASSWORD_COST": "4", **settings}
        self.base_url = f"http://127.0.0.1:{self.port}"

    def run(self, *arguments):
        result = subprocess.run([os.path.join(ROOT, "scripts", "cluster"), *arguments], env=self.environment, capture_output=True, text=True)
        assert result.returncode == 0, f"scripts/cluster {' '.join(arguments)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    @contextlib.contextmanager
    def running(self, request, *arguments, before_down=None):
        """Up with `arguments` (`--api`, `--ws`) for the body, then down, after `before_down(cluster)` if given. The
        cluster's folder (its Postgres, Redis and the nodes' logs) is kept only when a test failed."""
        self.run("up", *arguments, "--port", str(self.port))
        try:
            yield self
        finally:
            if before_down:
                before_down(self)
            self.run("down")
            if request.session.testsfailed == 0:
                shutil.rmtree(self.folder, ignore_errors=True)

    def status(self):
        """{process: (port, pid, state)} from `scripts/cluster status`."""
        rows = [line.split(None, 4) for line in self.run("status").splitlines()[1:]]
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def url(self, node, test=True):
        """The web client, asking for WS node `node`; `test=1` gives the page its read-only window.parley."""
        return f"http://127.0.0.1:{self.port}/?node={node}" + ("&test=1" if test else "")

    # The load balancer, stopped and started again: the server as a client sees it, away and back.

    def _haproxy_pid(self):
        with open(os.path.join(self.folder, "haproxy.pid")) as file:
            return int(file.read().split()[0])

    def stop_load_balancer(self):
        """Stops the cluster's HAProxy: the server is then unreachable, connections to its port refused."""
        pid = self._haproxy_pid()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _running(pid):
            assert time.monotonic() < deadline, "HAProxy did not stop"
            time.sleep(0.05)

    def start_load_balancer(self):
        """Starts the cluster's HAProxy again, as scripts/cluster up does, and waits until the nodes answer through it."""
        with open(os.path.join(self.folder, "haproxy.log"), "a") as log:
            subprocess.run(
                ["haproxy", "-D", "-f", os.path.join(self.folder, "haproxy.cfg"), "-p", os.path.join(self.folder, "haproxy.pid")],
                stdout=log, stderr=subprocess.STDOUT, check=True, timeout=30,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.get("/readyz")[0] == 200 and self.get("/api/me")[0] == 401:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "the cluster did not answer through HAProxy again"
            time.sleep(0.2)


def _running(pid):
    """The process runs (a zombie, killed and not yet reaped, does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
