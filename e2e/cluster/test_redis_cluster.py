"""scripts/cluster up --redis-cluster 3: the nodes' bus on a Redis Cluster of 3 masters and 3 replicas, with sharded
pub/sub. Two users on two WS nodes chat; the shards' INFO commandstats show that every publish was an SPUBLISH, and
that rooms spread over the shards."""

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid

import pytest
import websockets

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from local_cluster import Cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster(request):
    with Cluster(prefix="parley-redis-cluster-").running(request, "--api", "1", "--ws", "2", "--recorders", "0", "--redis-cluster", "3") as cluster:
        yield cluster


def rest(cluster, method, path, body=None, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{cluster.port}/api/{path}", method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, json.dumps(body).encode() if body is not None else None, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def sign_up(cluster, prefix):
    username = f"{prefix}{uuid.uuid4().hex[:8]}"
    return rest(cluster, "POST", "auth/register", {"username": username, "password": "password123", "name": prefix})


def commandstats(port):
    """{command: calls} from a Redis node's INFO commandstats."""
    info = subprocess.run(["redis-cli", "-p", str(port), "info", "commandstats"], capture_output=True, text=True, timeout=10).stdout
    stats = {}
    for line in info.splitlines():
        if line.startswith("cmdstat_"):
            name, fields = line[len("cmdstat_"):].split(":", 1)
            stats[name] = int(dict(field.split("=") for field in fields.split(","))["calls"])
    return stats


def masters(cluster):
    return [int(name.split("-")[1]) for name, (_, _, state) in cluster.status().items()
            if name.startswith("redis-") and state == "up" and cluster_role(name) == "master"]


def cluster_role(name):
    port = name.split("-")[1]
    return subprocess.run(["redis-cli", "-p", port, "role"], capture_output=True, text=True, timeout=10).stdout.split("\n")[0]


async def chat(cluster, alice, bob, room, count):
    """Alice on ws-1 sends `count` messages; Bob on ws-2 receives every one, in order."""
    url = f"ws://127.0.0.1:{cluster.port}/ws?node="
    async with websockets.connect(url + "ws-1", subprotocols=["parley.v1", f"bearer.{alice['accessToken']}"]) as a, \
            websockets.connect(url + "ws-2", subprotocols=["parley.v1", f"bearer.{bob['accessToken']}"]) as b:
        assert (json.loads(await a.recv())["node"], json.loads(await b.recv())["node"]) == ("ws-1", "ws-2")
        await b.send(json.dumps({"id": "s", "type": "subscribe", "rooms": [{"room": room, "since": 0}]}))
        while json.loads(await asyncio.wait_for(b.recv(), 10)).get("re") != "s":
            pass
        for n in range(count):
            await a.send(json.dumps({"id": f"m{n}", "type": "send", "room": room, "clientId": str(uuid.uuid4()), "text": f"hello {n}"}))
        received = []
        while len(received) < count:
            event = json.loads(await asyncio.wait_for(b.recv(), 10))
            if event.get("type") == "message.created":
                received.append(event["text"])
        assert received == [f"hello {n}" for n in range(count)]


def test_chat_across_ws_nodes_runs_on_sharded_pub_sub_only(cluster):
    status = cluster.status()
    redis_nodes = [name for name in status if name.startswith("redis-")]
    assert len(redis_nodes) == 6 and "redis" not in status, status
    assert sorted(cluster_role(name) for name in redis_nodes) == ["master"] * 3 + ["slave"] * 3

    before = {port: commandstats(port) for port in masters(cluster)}
    rooms = []
    for _ in range(9):
        alice, bob = sign_up(cluster, "alice"), sign_up(cluster, "bob")
        rooms.append(rest(cluster, "POST", "contacts", {"username": bob["user"]["username"]}, alice["accessToken"])["room"])
        asyncio.run(chat(cluster, alice, bob, rooms[-1], 4))

    after = {port: commandstats(port) for port in masters(cluster)}
    spublished = {port: after[port].get("spublish", 0) - before[port].get("spublish", 0) for port in after}
    # Every publish is sharded: no master ran a PUBLISH, and the rooms' messages went to more than one shard.
    assert all("publish" not in stats for stats in after.values()), after
    assert sum(spublished.values()) >= 36, spublished
    assert sum(1 for count in spublished.values() if count > 0) >= 2, spublished
    # The nodes subscribe with SSUBSCRIBE, and read the cluster's shards.
    assert sum(stats.get("ssubscribe", 0) for stats in after.values()) > 0, after
    assert all("subscribe" not in stats for stats in after.values()), after


def test_compose_offers_the_same_cluster_as_an_alternative_to_its_redis():
    import yaml

    from local_cluster import ROOT
    with open(os.path.join(ROOT, "docker-compose.redis-cluster.yml")) as file:
        overlay = yaml.safe_load(file)
    with open(os.path.join(ROOT, "docker-compose.yml")) as file:
        base = yaml.safe_load(file)
    services = overlay["services"]
    nodes = sorted(name for name in services if name.startswith("redis-") and name != "redis-cluster")
    assert nodes == [f"redis-{n}" for n in range(1, 7)]
    assert all("--cluster-enabled" in services[name]["command"] for name in nodes)
    assert set(services["redis-cluster"]["depends_on"]) == set(nodes)
    # Every service that runs the bus leaves REDIS_URL for REDIS_CLUSTER, seeded with the six, once they are one cluster.
    for name in ("api", "ws"):
        assert name in base["services"]
        environment = services[name]["environment"]
        assert environment["REDIS_URL"] == ""
        assert sorted(seed.split(":")[0] for seed in environment["REDIS_CLUSTER"].split(",")) == nodes
        assert services[name]["depends_on"]["redis-cluster"]["condition"] == "service_completed_successfully"
