"""A Parley cluster on loopback for the end-to-end suites: `scripts/cluster` in a folder of its own (Postgres, Redis,
nodes and HAProxy on free ports), driven through its commands."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
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
