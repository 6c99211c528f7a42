"""Files over REST against a Parley cluster: scripts/cluster up with two API nodes and two WS nodes behind HAProxy,
on loopback, in a folder of its own, once with its files in a folder every node shares (`dir:`) and once in a bucket
of moto's S3 server, which this suite starts on a free loopback port (`s3:`). Each test that takes `store` runs
against both; one that asks for only one of them says so with `@pytest.mark.parametrize("store", [...],
indirect=True)`. The clusters keep files small (FILE_MAX_BYTES) and sweep unsent ones soon (UNSENT_TTL).
scripts/test provides PARLEY_BIN; without it the debug build is used."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import botocore.config
import botocore.session
import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from local_cluster import ROOT, Cluster, free_port  # noqa: E402

BINARY = os.environ.get("PARLEY_BIN", os.path.join(ROOT, ".build", "debug", "parley"))
PASSWORD = "correct horse battery"
# The largest file the suite's clusters take: small, so that going over it is cheap.
FILE_MAX_BYTES = 1 << 20
# Seconds before an uploaded file that no message took is swept; every test sends what it uploads well within it.
UNSENT_TTL = 5
BUCKET = "parley-files"


@pytest.fixture(scope="session")
def s3(request):
    """moto's S3 server on a free loopback port, with an empty bucket: the endpoint URL."""
    folder = tempfile.mkdtemp(prefix="parley-files-s3-")
    port = free_port()
    log = open(os.path.join(folder, "moto.log"), "w")
    process = subprocess.Popen(
        [os.path.join(ROOT, ".test", "venv", "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"moto_server exited: {open(log.name).read()}"
            try:
                requests.get(endpoint + "/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        # moto checks no signature, so a plain PUT makes the bucket.
        assert requests.put(f"{endpoint}/{BUCKET}", timeout=5).status_code == 200
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        if request.session.testsfailed == 0:
            shutil.rmtree(folder, ignore_errors=True)


class Bucket:
    """The suite's bucket, seen as S3 clients see it (botocore, signed: moto answers an anonymous HEAD with 403)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.client = botocore.session.get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="parley", aws_secret_access_key="parley-secret",
            config=botocore.config.Config(s3={"addressing_style": "path"}))

    def keys(self):
        keys, token = set(), None
        while True:
            page = self.client.list_objects_v2(Bucket=BUCKET, **({"ContinuationToken": token} if token else {}))
            keys |= {item["Key"] for item in page.get("Contents", [])}
            if not page.get("IsTruncated"):
                return keys
            token = page["NextContinuationToken"]

    def head(self, key):
        """The object's size, or None when there is none (HEAD answers 404)."""
        try:
            return self.client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
        except self.client.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] in ("404", "NoSuchKey"), error.response
            return None

    def read(self, key):
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


class Folder:
    """The folder every node of a `dir:` cluster keeps files in."""

    def __init__(self, path):
        self.path = path

    def keys(self):
        """Every file under the folder, temporary ones included, as keys (`files/ROOM/FILE`)."""
        found = set()
        for folder, _, names in os.walk(self.path):
            found |= {os.path.relpath(os.path.join(folder, name), self.path) for name in names}
        return found

    def head(self, key):
        path = os.path.join(self.path, key)
        return os.path.getsize(path) if os.path.isfile(path) else None

    def read(self, key):
        with open(os.path.join(self.path, key), "rb") as file:
            return file.read()


class Store:
    """A cluster with one kind of file store, and that store seen from outside Parley."""

    def __init__(self, kind, cluster, blobs):
        self.kind = kind
        self.cluster = cluster
        self.blobs = blobs
        self.base_url = cluster.base_url
        status = cluster.status()
        # Each API node by itself, past HAProxy, for what must work across nodes.
        self.api_nodes = {name: f"http://127.0.0.1:{port}" for name, (port, _, _) in sorted(status.items()) if name.startswith("api-")}
        assert len(self.api_nodes) == 2, status

    def __repr__(self):
        return self.kind


@pytest.fixture(scope="session", params=["dir", "s3"])
def store(request):
    """A cluster that keeps files in a shared folder (`dir`) or in moto's bucket (`s3`). pytest runs the tests of
    one before it brings up the other, so that only one cluster runs at a time."""
    kind = request.param
    settings = {
        "PARLEY_BIN": BINARY, "PARLEY_REGISTER_LIMIT": "1000", "PARLEY_CREATE_LIMIT": "100000",
        "PARLEY_FILE_MAX_BYTES": str(FILE_MAX_BYTES), "PARLEY_FILE_UNSENT_TTL": str(UNSENT_TTL),
    }
    cluster = Cluster(prefix=f"parley-files-{kind}-", **settings)
    if kind == "dir":
        folder = os.path.join(cluster.folder, "files")
        cluster.environment["PARLEY_FILES"] = f"dir:{folder}"
        blobs = Folder(folder)
    else:
        endpoint = request.getfixturevalue("s3")
        cluster.environment.update({
            "PARLEY_FILES": f"s3://{BUCKET}?endpoint={endpoint}&region=us-east-1",
            "PARLEY_S3_ACCESS_KEY": "parley", "PARLEY_S3_SECRET_KEY": "parley-secret",
        })
        blobs = Bucket(endpoint)
    with cluster.running(request, "--api", "2", "--ws", "2"):
        yield Store(kind, cluster, blobs)


class User:
    """Someone signed up through HAProxy, who talks REST to it or to one API node by itself (`via`)."""

    def __init__(self, store, prefix):
        self.store = store
        self.username = f"{prefix}{uuid.uuid4().hex[:8]}"
        answer = requests.post(
            f"{store.base_url}/api/auth/register", json={"username": self.username, "password": PASSWORD, "name": prefix.title()},
            timeout=30)
        assert answer.status_code == 201, answer.text
        session = answer.json()
        self.id = session["user"]["id"]
        self.token = session["accessToken"]

    def call(self, method, path, body=None, via=None, **options):
        """The answer to METHOD /api/PATH, signed in, through HAProxy or the API node named by `via`."""
        base = self.store.api_nodes[via] if via else self.store.base_url
        options.setdefault("timeout", 30)
        headers = {"Authorization": f"Bearer {self.token}", **options.pop("headers", {})}
        return requests.request(method, f"{base}/api/{path}", json=body, headers=headers, **options)

    def ok(self, method, path, body=None, status=200, via=None):
        answer = self.call(method, path, body, via=via)
        assert answer.status_code == status, f"{method} /api/{path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def contact(self, other):
        """The direct room of this user and `other`."""
        return self.ok("POST", "contacts", {"username": other.username}, status=201)["room"]

    def announce(self, room, name, size, content_type, via=None):
        return self.call("POST", f"rooms/{room}/files", {"name": name, "size": size, "contentType": content_type}, via=via)

    def send(self, room, files, text=None, via=None):
        body = {"clientId": str(uuid.uuid4()), "files": files}
        if text is not None:
            body["text"] = text
        return self.call("POST", f"rooms/{room}/messages", body, via=via)

    def history(self, room):
        return self.ok("GET", f"rooms/{room}/messages")

    def link(self, file, via=None):
        """GET /api/files/FILE, not followed: the redirect goes without the Authorization header."""
        return self.call("GET", f"files/{file}", via=via, allow_redirects=False)


def upload_url(store, announced, via=None):
    """Where the bytes go: `dir:`'s path resolved against the node (or HAProxy) that answered, `s3:`'s as it is."""
    url = announced["upload"]["url"]
    return urllib.parse.urljoin((store.api_nodes[via] if via else store.base_url) + "/", url)


def put(store, announced, data, via=None, headers=None):
    """The bytes sent as the announcement says, with no Authorization header."""
    upload = announced["upload"]
    return requests.request(
        upload["method"], upload_url(store, announced, via), data=data, headers={**upload["headers"], **(headers or {})}, timeout=30)


def fetch(store, location, via=None):
    """The bytes behind a link's Location, fetched as a browser would after the redirect: no Authorization header."""
    return requests.get(urllib.parse.urljoin((store.api_nodes[via] if via else store.base_url) + "/", location), timeout=30)


def error_code(answer):
    try:
        return answer.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.25)


@pytest.fixture
def alice(store):
    return User(store, "alice")


@pytest.fixture
def bob(store):
    return User(store, "bob")


@pytest.fixture
def carol(store):
    return User(store, "carol")


@pytest.fixture
def room(alice, bob):
    """Alice and Bob's direct room."""
    return alice.contact(bob)
