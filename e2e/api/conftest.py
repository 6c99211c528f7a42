"""One embedded Parley node (SQLite, the in-process bus) on a free loopback port, for Schemathesis to test against
the OpenAPI document the node serves, signed in as Alice.

PARLEY_BIN names the binary (scripts/test sets it; the debug build by default). PARLEY_OPENAPI, when set, is a path
to test with instead of the served document: for a document edited since the binary was built. Each run is bounded
by PARLEY_SCHEMATHESIS_EXAMPLES (fuzzed requests per operation, 30) and repeatable by PARLEY_SCHEMATHESIS_SEED; a
few operations alone: `pytest -k messages`."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("PARLEY_BIN") or os.path.join(ROOT, ".build", "debug", "parley")
# Examples per operation in the fuzzing phase; the examples and coverage phases add their own few.
MAX_EXAMPLES = int(os.environ.get("PARLEY_SCHEMATHESIS_EXAMPLES", "30"))
# Fixed, so that a run can be repeated; set another to explore further.
SEED = int(os.environ.get("PARLEY_SCHEMATHESIS_SEED", "30"))
REQUEST_TIMEOUT = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, folder):
        self.folder = folder
        self.log = os.path.join(folder, "parley.log")
        self.url = f"http://127.0.0.1:{free_port()}"
        environment = {
            key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "REDIS_CLUSTER")
        }
        environment.update(
            PARLEY_HOST="127.0.0.1",
            PARLEY_PORT=self.url.rsplit(":", 1)[1],
            PARLEY_SQLITE_PATH=os.path.join(folder, "parley.sqlite"),
            PARLEY_PASSWORD_COST="4",
            # Generous throttles, so that the fuzzer reaches the handlers behind them: each throttle's 429 is in
            # the document all the same, and the hostile-client tests check the throttles themselves.
            PARLEY_REGISTER_LIMIT="100000",
            PARLEY_REFRESH_LIMIT="100000",
            PARLEY_CREATE_LIMIT="100000",
            PARLEY_LOGIN_ATTEMPTS="100000",
            PARLEY_SEND_LIMIT="100000",
            # So that the recorder workers' routes are served, and answer what the document says to the fuzzer, who
            # does not know the secret.
            PARLEY_RECORDER_SECRET=uuid.uuid4().hex,
        )
        self.process = subprocess.Popen(
            [BINARY, "serve"], env=environment, stdout=open(self.log, "w"), stderr=subprocess.STDOUT
        )

    def wait_until_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"parley exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"parley did not answer /healthz within {timeout} s:\n{self.tail()}")

    def tail(self, size=4000):
        with open(self.log, errors="replace") as file:
            return file.read()[-size:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Client:
    """A signed-in user, for setting up what the fuzzer's requests point at."""

    def __init__(self, url, username, name):
        self.url = url
        self.http = requests.Session()
        body = {"username": username, "password": "correct horse", "name": name}
        answer = self.call("post", "/api/auth/register", 201, json=body)
        self.token = answer["accessToken"]
        self.user = answer["user"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method, path, status, **arguments):
        response = self.http.request(method, self.url + path, timeout=REQUEST_TIMEOUT, **arguments)
        assert response.status_code == status, f"{method.upper()} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None


class World:
    """Real rooms, members, messages and meetings, so that most generated requests reach a handler instead of a
    404. `aim` points a generated case at them, chosen from the case's own generated values (so that Hypothesis
    replays the same request), and leaves one case in four as generated."""

    def __init__(self, url):
        run = uuid.uuid4().hex[:6]
        self.alice = Client(url, f"alice-{run}", "Alice")
        self.bob = Client(url, f"bob-{run}", "Bob")
        # Carol's sessions are the ones refresh and logout get to spend and revoke (everywhere, too).
        self.carol = Client(url, f"carol-{run}", "Carol")
        contact = {"username": self.bob.user["username"]}
        self.direct = self.alice.call("post", "/api/contacts", 201, json=contact)["room"]
        self.group = self.fresh_group(with_bob=True)
        for client, text in ((self.alice, "hello"), (self.bob, "hi Alice")):
            self.send(client, self.group, text)

    def fresh_group(self, with_bob):
        members = [self.bob.user["id"]] if with_bob else []
        return self.alice.call("post", "/api/rooms", 201, json={"name": "fuzz", "members": members})["room"]["id"]

    def send(self, client, room, text="to delete"):
        body = {"clientId": str(uuid.uuid4()), "text": text}
        return client.call("post", f"/api/rooms/{room}/messages", 201, json=body)["seq"]

    def refresh_token(self):
        """A live refresh token of a new session of Carol's."""
        body = {"username": self.carol.user["username"], "password": "correct horse"}
        return self.carol.call("post", "/api/auth/login", 200, json=body)["refreshToken"]

    def meeting(self, host):
        # The group's ringing or active meeting, or a new one: ringing when Bob starts it, for Alice to answer.
        response = host.http.post(f"{host.url}/api/rooms/{self.group}/meetings", timeout=REQUEST_TIMEOUT)
        assert response.status_code in (200, 201), response.text[:500]
        return response.json()["id"]

    def aim(self, case):
        parameters = case.path_parameters or {}
        if not parameters and not isinstance(case.body, dict) and not case.cookies:
            return
        generated = [case.method, case.path, parameters, case.body, case.cookies]
        digest = hashlib.sha256(json.dumps(generated, sort_keys=True, default=repr).encode()).digest()
        if digest[0] % 4 == 0:
            return
        pick = digest[1]
        route = (case.method.upper(), case.path)
        body = case.body if isinstance(case.body, dict) else None
        bob = self.bob.user
        if route in (("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout")):
            if body is not None and "refreshToken" in body:
                body["refreshToken"] = self.refresh_token()
            elif case.cookies is not None and "parley_refresh" in case.cookies:
                case.cookies["parley_refresh"] = self.refresh_token()
        elif route == ("POST", "/api/contacts") and body is not None:
            body["username"] = bob["username"]
        elif route == ("POST", "/api/rooms") and body is not None and pick % 2:
            body["members"] = [bob["id"]]
        if "room" in parameters:
            if route in (("DELETE", "/api/rooms/{room}"), ("PATCH", "/api/rooms/{room}/members/{user}"),
                         ("DELETE", "/api/rooms/{room}/members/{user}"), ("POST", "/api/rooms/{room}/members")):
                # What changes a group's members or ends it gets a group of its own.
                parameters["room"] = self.fresh_group(with_bob=route != ("POST", "/api/rooms/{room}/members"))
            else:
                parameters["room"] = self.direct if pick % 5 == 0 else self.group
        if "user" in parameters:
            parameters["user"] = self.alice.user["id"] if pick % 3 == 0 else bob["id"]
        if route == ("POST", "/api/rooms/{room}/members") and body is not None:
            body["userId"] = bob["id"]
        if "seq" in parameters:
            parameters["seq"] = self.send(self.bob if pick % 2 else self.alice, parameters["room"])
        if "meeting" in parameters:
            parameters["meeting"] = self.meeting(self.bob if pick % 2 else self.alice)


NODE = None
WORLD = None
# The statuses each operation answered, shown after the run: proof that the requests reached the handlers.
STATUSES = defaultdict(Counter)


def record(case, response):
    # The coverage phase also tries each path with methods it does not document: those are counted together.
    method = case.method.upper() if case.method.upper() == case.operation.method.upper() else "other methods on"
    STATUSES[f"{method} {case.path}"][response.status_code] += 1


def pytest_terminal_summary(terminalreporter):
    if not STATUSES:
        return
    terminalreporter.section("statuses per operation")
    for operation, counts in sorted(STATUSES.items(), key=lambda item: item[0].split(" ", 1)[::-1]):
        statuses = ", ".join(f"{status} x{n}" for status, n in sorted(counts.items()))
        terminalreporter.write_line(f"{operation}: {statuses}")


def pytest_sessionstart(session):
    """The node starts before collection, because Schemathesis makes one test per operation of the document that
    the node serves, and the world is set up before the first of them."""
    global NODE, WORLD
    if not os.access(BINARY, os.X_OK):
        raise pytest.UsageError(f"no Parley binary at {BINARY}: build it, or set PARLEY_BIN")
    NODE = Node(tempfile.mkdtemp(prefix="parley-api-"))
    try:
        NODE.wait_until_up()
        WORLD = World(NODE.url)
    except BaseException:
        NODE.stop()
        raise


def pytest_sessionfinish(session, exitstatus):
    if NODE is None:
        return
    NODE.stop()
    # The node's log is kept when a test failed, for the server's side of what the failure shows.
    if exitstatus == 0:
        shutil.rmtree(NODE.folder, ignore_errors=True)
    else:
        print(f"\nthe node's log: {NODE.log}")


def pytest_collection_modifyitems(items):
    """One test per operation, each with an id of its own: `test_api[POST /api/rooms]`. pytest 9.2 builds an item's
    id from its original name and its parametrization alone, and Schemathesis 4.32 puts the operation in neither
    (only in the item's name), so every item would otherwise be reported as `test_api`."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and label not in item.nodeid and hasattr(item, "_id") and hasattr(item._id, "with_params"):
            item._id = item.parent.id.child(item.originalname).with_params(label)


def served_schema():
    """The document the node serves (or the one at PARLEY_OPENAPI), set up to call the node as Alice."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": NODE.url,
            "request-timeout": REQUEST_TIMEOUT,
            "auth": {"openapi": {"bearer": {"bearer": WORLD.alice.token}}},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
        }
    )
    local = os.environ.get("PARLEY_OPENAPI")
    if local:
        return schemathesis.openapi.from_path(local, config=config)
    # Read here rather than with from_url, which would leave out the operation that serves the document.
    served = requests.get(NODE.url + "/api/openapi.json", timeout=REQUEST_TIMEOUT)
    served.raise_for_status()
    return schemathesis.openapi.from_dict(served.json(), config=config)


@pytest.fixture(scope="session")
def world():
    return WORLD
