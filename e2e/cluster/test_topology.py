"""scripts/cluster on this machine, and the docker-compose/Traefik files that describe the same topology: they must
route the same paths to the same services with the same health checks as the HAProxy configuration."""

import asyncio
import json
import os
import re
import shutil
import socket
import sys
import urllib.request

import pytest
import websockets
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from local_cluster import ROOT, Cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster(request):
    with Cluster(prefix="parley-topology-").running(request) as cluster:
        yield cluster


async def hello(url):
    """The node a WebSocket through HAProxy lands on."""
    request = urllib.request.Request(url.replace("ws://", "http://").split("/ws")[0] + "/api/auth/register", method="POST")
    request.add_header("Content-Type", "application/json")
    body = json.dumps({"username": f"u{os.urandom(4).hex()}", "password": "password123", "name": "U"}).encode()
    token = json.loads(urllib.request.urlopen(request, body, timeout=10).read())["accessToken"]
    async with websockets.connect(url, subprotocols=["parley.v1", f"bearer.{token}"]) as socket:
        return json.loads(await socket.recv())["node"]


def test_up_starts_every_process_and_haproxy_routes_by_path(cluster):
    status = cluster.status()
    assert set(status) == {"api-1", "api-2", "ws-1", "ws-2", "ws-3", "recorder-1", "redis", "postgres", "haproxy"}
    assert all(state == "up" for _, _, state in status.values()), status
    assert cluster.get("/healthz")[0] == 200
    assert b"<title>Parley</title>" in cluster.get("/")[1]
    # /api goes to API nodes only: without a token, every one of them answers 401 (a WS node would say 404).
    assert {cluster.get("/api/me")[0] for _ in range(8)} == {401}
    nodes = {asyncio.run(hello(f"ws://127.0.0.1:{cluster.port}/ws")) for _ in range(6)}
    assert nodes <= {"ws-1", "ws-2", "ws-3"} and len(nodes) >= 2, nodes
    assert asyncio.run(hello(f"ws://127.0.0.1:{cluster.port}/ws?node=ws-3")) == "ws-3"


def test_a_killed_node_is_taken_out_and_a_restarted_one_comes_back(cluster):
    cluster.run("kill", "ws-3")
    assert cluster.status()["ws-3"][2] == "down"
    # Asked for by name, a dead node is passed over.
    assert asyncio.run(hello(f"ws://127.0.0.1:{cluster.port}/ws?node=ws-3")) in {"ws-1", "ws-2"}
    cluster.run("restart", "ws-3")
    assert cluster.status()["ws-3"][2] == "up"
    assert "ws-3" in cluster.run("logs", "ws-3")
    asyncio.run(asyncio.sleep(2.5))  # HAProxy checks every second, and one good check brings it back
    assert asyncio.run(hello(f"ws://127.0.0.1:{cluster.port}/ws?node=ws-3")) == "ws-3"


def haproxy_routes(config):
    """{(path, prefix?): backend} and {backend: health path} from the HAProxy configuration."""
    routes, health, backend = {}, {}, None
    for line in config.splitlines():
        line = line.strip()
        if match := re.match(r"use_backend (\w+) if \{ path(_beg)? (\S+) \}", line):
            routes[(match.group(3), bool(match.group(2)))] = match.group(1)
        elif match := re.match(r"default_backend (\w+)", line):
            routes[("/", True)] = match.group(1)
        elif match := re.match(r"backend (\w+)", line):
            backend = match.group(1)
        elif match := re.match(r"option httpchk GET (\S+)", line):
            health[backend] = match.group(1)
    return routes, health


def traefik_routes(compose):
    """The same, from the Traefik labels of docker-compose.yml."""
    routes, health = {}, {}
    for service in compose["services"].values():
        labels = service.get("labels", {})
        for key, rule in labels.items():
            if match := re.fullmatch(r"traefik\.http\.routers\.(\w+)\.rule", key):
                router = match.group(1)
                kind, path = re.fullmatch(r"(Path|PathPrefix)\(`([^`]+)`\)", rule).groups()
                routes[(path, kind == "PathPrefix")] = labels[f"traefik.http.routers.{router}.service"]
            elif match := re.fullmatch(r"traefik\.http\.services\.(\w+)\.loadbalancer\.healthcheck\.path", key):
                health[match.group(1)] = rule
    return routes, health


def test_compose_and_traefik_match_haproxy(cluster):
    with open(os.path.join(ROOT, "docker-compose.yml")) as file:
        compose = yaml.safe_load(file)
    with open(os.path.join(cluster.folder, "haproxy.cfg")) as file:
        assert traefik_routes(compose) == haproxy_routes(file.read())

    services = compose["services"]
    assert set(services) == {"postgres", "redis", "minio", "minio-bucket", "migrate", "api", "ws", "recorder", "traefik"}
    for name in ("api", "ws"):
        node = services[name]
        # Scalable: no fixed name and no host port; health-checked; started after the migration succeeded.
        assert "container_name" not in node and "ports" not in node
        assert node["healthcheck"]["test"][-1].endswith("/readyz")
        assert node["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert node["command"] == ["serve", "--role", name]
        assert node["stop_signal"] == "SIGTERM"
        assert node["environment"]["PARLEY_JWT_SECRET"].startswith("${PARLEY_JWT_SECRET:?")
        # Files in MinIO, which the nodes reach inside the network and clients at its published address.
        assert node["environment"]["PARLEY_FILES"].startswith("s3://parley-files?endpoint=http://minio:9000&public=")
        assert node["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
        assert node["environment"]["PARLEY_RECORDER_SECRET"].startswith("${PARLEY_RECORDER_SECRET:?")
    # The recorder worker: its own image, the nodes' secret, the nodes through Traefik, and a spool that outlives it.
    recorder = services["recorder"]
    assert recorder["build"]["target"] == "recorder" and "ports" not in recorder
    assert recorder["environment"]["PARLEY_SERVER"] == "http://traefik:80"
    assert recorder["environment"]["PARLEY_RECORDER_SECRET"] == services["api"]["environment"]["PARLEY_RECORDER_SECRET"]
    assert recorder["volumes"] == ["recorder-spool:/spool"] and recorder["stop_signal"] == "SIGTERM"
    assert services["migrate"]["command"] == ["migrate"] and services["migrate"]["restart"] == "no"
    for store in ("postgres", "redis", "minio"):
        assert services[store]["volumes"] and services[store]["healthcheck"]["test"]
    assert set(compose["volumes"]) == {"postgres", "redis", "minio", "recorder-spool"}

    with open(os.path.join(ROOT, "traefik", "traefik.yml")) as file:
        static = yaml.safe_load(file)
    assert static["providers"]["docker"]["exposedByDefault"] is False
    assert static["providers"]["file"]["filename"] == "/etc/traefik/dynamic.yml"
    with open(os.path.join(ROOT, "traefik", "dynamic.yml")) as file:
        dynamic = yaml.safe_load(file)
    middlewares = {value for key, value in services["api"]["labels"].items() if key.endswith(".middlewares")}
    assert middlewares == {f"{name}@file" for name in dynamic["http"]["middlewares"]}


def test_the_dockerfile_builds_in_one_stage_and_runs_slim(cluster):
    with open(os.path.join(ROOT, "Dockerfile")) as file:
        text = file.read()
    stages = [line.split()[1:] for line in text.splitlines() if line.startswith("FROM ")]
    assert stages[0][0].startswith("swift:") and stages[0][-1] == "build"
    # The node's runtime is last, the default target; the recorder's has GStreamer and runs the worker.
    assert stages[-1] == ["debian:bookworm-slim", "AS", "node"]
    assert ["debian:bookworm-slim", "AS", "recorder"] in stages
    assert 'ENTRYPOINT ["/app/parley-peer", "record-worker"]' in text and "gstreamer1.0-nice" in text


def test_down_leaves_nothing_running():
    cluster = Cluster()
    cluster.run("up", "--api", "1", "--ws", "1", "--port", str(cluster.port))
    pids = [int(pid) for _, pid, _ in cluster.status().values() if pid.isdigit()]
    cluster.run("down")
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", f"{pid} still runs"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", cluster.port)) != 0
    shutil.rmtree(cluster.folder, ignore_errors=True)
