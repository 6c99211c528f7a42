"""`scripts/bench redis-cluster`: the bus on a Redis Cluster, on two clusters of its own (scripts/cluster up: 1 API
node and 2 WS nodes behind HAProxy, release build), one on one Redis and one on a Redis Cluster of 3 masters and 3
replicas:

- the bus's spread: the same chat load on each (rooms of 4 members, their sockets on both WS nodes, a sender per
  room at a fixed rate), and the Redis servers' CPU per delivered message, all of them and the busiest alone;
- failover, on the Redis Cluster: a master SIGKILLed mid-traffic, and the time until every room delivers again a
  message sent after the kill, over several kills (each killed master is started again, rejoins as a replica, and
  the cluster is whole again before the next).

It writes the `redis-cluster` section of BENCHMARKS.md.

  redis_cluster.py [--rooms 24] [--rate 8] [--seconds 30] [--kills 6] [--dry-run]
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calls import Busy, commit, cpu_seconds, machine, percentile, save, write_section  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PASSWORD = "correct horse battery"
MEMBERS = 4


class Failed(Exception):
    pass


# MARK: The clusters


class Cluster:
    """A scripts/cluster of this benchmark's, in a folder of its own; `shards` 0 for one Redis."""

    def __init__(self, shards):
        self.shards = shards
        self.folder = subprocess.run(["mktemp", "-d", "/tmp/parley-bench-redis.XXXXXX"], capture_output=True, text=True, check=True).stdout.strip()
        os.chmod(self.folder, 0o755)

    def script(self, *arguments):
        environment = {**os.environ, "PARLEY_CLUSTER_DIR": self.folder}
        result = subprocess.run([os.path.join(ROOT, "scripts/cluster"), *arguments], env=environment, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise Failed(f"scripts/cluster {' '.join(arguments)}: {result.stdout}{result.stderr}")
        return result.stdout

    def __enter__(self):
        port = int(subprocess.run(["bash", "-c", "source scripts/lib.sh && free_port"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        redis = ["--redis-cluster", str(self.shards)] if self.shards else []
        self.script("up", "--api", "1", "--ws", "2", "--recorders", "0", *redis, "--port", str(port))
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *_):
        self.script("down")
        subprocess.run(["rm", "-rf", self.folder])

    def redis_pids(self):
        """{name: pid} of the Redis servers that run now."""
        pids = {}
        if self.shards:
            base = os.path.join(self.folder, "redis-cluster")
            for node in sorted(n for n in os.listdir(base) if n.startswith("node-")):
                path = os.path.join(base, node, "redis.pid")
                if os.path.exists(path):
                    pid = int(open(path).read().split()[0])
                    if os.path.exists(f"/proc/{pid}"):
                        pids["redis-" + node.split("-")[1]] = pid
        else:
            pids["redis"] = int(open(os.path.join(self.folder, "redis", "redis.pid")).read().split()[0])
        return pids

    def cluster_whole(self):
        """Every Redis Cluster node up, the cluster ok, and every replica synced with its master."""
        ports = [name.split("-")[1] for name in self.redis_pids()]
        if len(ports) != 2 * self.shards:
            return False
        for port in ports:
            info = subprocess.run(["redis-cli", "-p", port, "cluster", "info"], capture_output=True, text=True).stdout
            replication = subprocess.run(["redis-cli", "-p", port, "info", "replication"], capture_output=True, text=True).stdout
            if "cluster_state:ok" not in info or "master_link_status:down" in replication:
                return False
        return True


def rest(cluster, method, path, body=None, token=None):
    request = urllib.request.Request(cluster.url + "/api/" + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def rooms_of(cluster, count):
    """`count` rooms of MEMBERS new users each: [(room, [(user, token), ...])]."""
    rooms = []
    for n in range(count):
        people = [rest(cluster, "POST", "auth/register", {"username": f"b{uuid.uuid4().hex[:10]}", "password": PASSWORD, "name": "B"})
                  for _ in range(MEMBERS)]
        room = rest(cluster, "POST", "rooms", {"name": f"room {n}", "members": [p["user"]["id"] for p in people[1:]]}, people[0]["accessToken"])
        rooms.append((room["id"] if "id" in room else room["room"]["id"], [(p["user"]["id"], p["accessToken"]) for p in people]))
    return rooms


# MARK: The load


class Load:
    """Every member of every room on a socket (alternately on ws-1 and ws-2); a sender per room sends at `rate` a
    second, each message carrying its send time; per room, the send time of the newest message delivered."""

    def __init__(self, cluster, rooms, rate):
        self.cluster, self.rooms, self.rate = cluster, rooms, rate
        self.deliveries = 0
        self.sent = 0
        self.latest = {}  # room: the send time of the newest message delivered
        self.running = True

    async def member(self, session, room, token, index, ready):
        url = self.cluster.url.replace("http://", "ws://") + f"/ws?node=ws-{1 + index % 2}"
        async with session.ws_connect(url, protocols=("parley.v1", f"bearer.{token}"), heartbeat=None, max_msg_size=0) as socket:
            await socket.receive_json()
            await socket.send_json({"id": "s", "type": "subscribe", "rooms": [{"room": room, "since": 0}]})
            while (await socket.receive_json()).get("re") != "s":
                pass
            ready.set()
            sending = asyncio.create_task(self.send(socket, room)) if index == 0 else None
            try:
                async for frame in socket:
                    event = json.loads(frame.data)
                    if event.get("type") == "message.created":
                        self.deliveries += 1
                        self.latest[room] = max(self.latest.get(room, 0), float(event["text"]))
                    if not self.running:
                        break
            finally:
                if sending:
                    sending.cancel()

    async def send(self, socket, room):
        interval, next_at = 1 / self.rate, time.monotonic()
        while self.running:
            await socket.send_json({"type": "send", "room": room, "clientId": str(uuid.uuid4()), "text": f"{time.time():.6f}"})
            self.sent += 1
            next_at += interval
            await asyncio.sleep(max(0, next_at - time.monotonic()))

    async def run(self, during):
        """Runs the load, and `during()` once every socket is subscribed."""
        async with aiohttp.ClientSession() as session:
            readies, tasks = [], []
            for room, members in self.rooms:
                for index, (_, token) in enumerate(members):
                    ready = asyncio.Event()
                    readies.append(ready)
                    tasks.append(asyncio.create_task(self.member(session, room, token, index, ready)))
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
            try:
                return await during()
            finally:
                self.running = False
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


# MARK: The figures


def redis_cpu(cluster, seconds):
    """Each Redis server's CPU seconds a second over `seconds`."""
    pids = cluster.redis_pids()
    before, started = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}


async def spread(cluster, load, seconds, idle):
    """Redis CPU per delivered message over `seconds` of the load, after 3 s to settle, beyond what the servers
    use with the nodes up and no clients (`idle`)."""
    await asyncio.sleep(3)
    deliveries, sent, started = load.deliveries, load.sent, time.monotonic()
    used = await asyncio.to_thread(redis_cpu, cluster, seconds)
    elapsed = time.monotonic() - started
    delivered, published = (load.deliveries - deliveries) / elapsed, (load.sent - sent) / elapsed
    load_cpu = sum(used.values()) - sum(idle.values())
    return {
        "servers": len(used), "delivered": delivered, "sent": published, "idle": sum(idle.values()),
        "cpu": sum(used.values()), "busiest": max(used.values()),
        "per_delivery": load_cpu / delivered * 1e6, "per_message": load_cpu / published * 1e6,
    }


async def failovers(cluster, load, kills):
    """For each kill: seconds from the SIGKILL of a master until every room has delivered a message sent after it."""
    times = []
    for n in range(kills):
        await asyncio.sleep(2)
        killed_at = time.time()
        name = (await asyncio.to_thread(cluster.script, "kill", "redis-master")).split()[-1]
        deadline = time.monotonic() + 60
        while not all(load.latest.get(room, 0) > killed_at for room, _ in load.rooms):
            if time.monotonic() > deadline:
                raise Failed(f"kill {n + 1} ({name}): rooms still waiting after 60 s")
            await asyncio.sleep(0.02)
        times.append(time.time() - killed_at)
        print(f"  kill {n + 1}: {name}, deliveries flowing again after {times[-1]:.2f} s", flush=True)
        await asyncio.to_thread(cluster.script, "restart", name)
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(cluster.cluster_whole):
            if time.monotonic() > deadline:
                raise Failed(f"the cluster was not whole again 60 s after {name} restarted")
            await asyncio.sleep(0.5)
    return times


def measure(shards, options):
    with Cluster(shards) as cluster:
        rooms = rooms_of(cluster, options.rooms)
        time.sleep(3)
        idle = redis_cpu(cluster, options.seconds)
        load = Load(cluster, rooms, options.rate)

        async def during():
            figures = await spread(cluster, load, options.seconds, idle)
            if shards and options.kills:
                figures["failovers"] = await failovers(cluster, load, options.kills)
            return figures

        return asyncio.run(load.run(during))


def markdown(options, one, three, idle):
    cores, model, memory, kernel = machine()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    failover = three.get("failovers", [])

    def row(label, f):
        return (f"| {label} | {f['servers']} | {f['sent']:.0f}/s | {f['delivered']:.0f}/s | {f['idle'] * 100:.1f}% | "
                f"{f['cpu'] * 100:.1f}% | {f['busiest'] * 100:.1f}% | {f['per_message']:.1f} µs | {f['per_delivery']:.1f} µs |")

    lines = [
        f"`{options.command}` on {cores} cores ({model}), {memory} GiB, Linux {kernel}; {when}{commit()}.",
        "",
        "Two clusters of the benchmark's own, one after the other: 1 API node and 2 WS nodes behind HAProxy (release "
        "build), on one Redis, then on a Redis Cluster of 3 masters and 3 replicas (`scripts/cluster up --redis-cluster "
        f"3`, node timeout 2 s). The same load on each: {options.rooms} rooms of {MEMBERS} members, each member on a "
        f"socket of its own (alternately on ws-1 and ws-2), and one member of each room sending {options.rate} messages "
        "a second; the clients are asyncio tasks of `bench/redis_cluster.py` on the same cores. Redis CPU is user and "
        "system time from `/proc/PID/stat` of every Redis server (masters and replicas), over "
        f"{options.seconds} s after 3 s to settle, and before the load, as long, with the nodes up and no client "
        "(idle: heartbeats, and on the cluster its nodes' own gossip and replication pings); the cost per message "
        "and per delivery is what the load added to that. A delivery is a `message.created` a client received.",
        "",
        "| bus | Redis servers | messages | deliveries | Redis CPU, idle | under load, all | busiest server | per message | per delivery |",
        "|---|---|---|---|---|---|---|---|---|",
        row("one Redis", one),
        row("Redis Cluster, 3 shards", three),
        "",
        "A message costs Redis one SPUBLISH on its room's shard (and the copy its replica gets), where classic pub/sub "
        "on a cluster would send it to every node of the cluster; each WS node that asked for the room gets it once "
        "and fans it out to its sockets itself.",
        "",
    ]
    if failover:
        lines += [
            f"Failover, on the Redis Cluster under the same load: a master SIGKILLed, {len(failover)} times, each time "
            "whichever master `scripts/cluster kill redis-master` finds (it is started again, and the cluster is whole "
            "again before the next); and the time until every room has delivered a message sent after the kill. Rooms "
            "on the other shards go on delivering throughout; the killed shard's wait for its replica to take over "
            "(the node timeout, 2 s, and the election), for the bus to read the new master from `CLUSTER SHARDS`, "
            "subscribe again and catch up from the store.",
            "",
            "| kills | p50 | p99 | min | max |",
            "|---|---|---|---|---|",
            f"| {len(failover)} | {percentile(failover, 50):.2f} s | {percentile(failover, 99):.2f} s | {min(failover):.2f} s | {max(failover):.2f} s |",
            "",
        ]
    lines.append(f"Everything shares the machine's {cores} cores: they were {idle:.0%} busy in 3 s before the run.")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="The bus on one Redis and on a Redis Cluster: spread and failover.")
    parser.add_argument("--command", default="bench/redis_cluster.py")
    parser.add_argument("--rooms", type=int, default=24)
    parser.add_argument("--rate", type=float, default=8, help="messages a second each room's sender sends")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--dry-run", action="store_true", help="print the figures only")
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    options = parser.parse_args()
    if options.rooms < 1 or options.rate <= 0 or options.seconds < 5 or options.kills < 0:
        parser.error("--rooms, --rate and --kills must be positive, --seconds at least 5")
    busy = Busy()
    time.sleep(3)
    idle = busy.fraction()
    one = measure(0, options)
    print(f"==> one Redis: {json.dumps(one)}", flush=True)
    three = measure(3, options)
    print(f"==> Redis Cluster: {json.dumps(three)}", flush=True)
    body = markdown(options, one, three, idle)
    print(body)
    if not options.dry_run:
        save(options.output, write_section(options.output, body, scenario="redis-cluster"))
        print(f"wrote the redis-cluster figures to {options.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as error:
        print(f"redis-cluster: {error}", file=sys.stderr)
        sys.exit(1)
