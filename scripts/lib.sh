# Shared by Parley's scripts: installing Debian packages, finding free ports, and running Postgres and Redis
# as throwaway servers on loopback. Source it; it defines functions only.

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing, with one `apt-get update` first.
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Prints COUNT distinct TCP ports that nothing listens on, none of them one of TAKEN (ports already handed out, which
# the kernel may offer again once their socket is closed): free_ports COUNT [TAKEN...].
free_ports() {
  python3 - "$@" <<'PY'
import socket, sys
count, taken = int(sys.argv[1]), {int(port) for port in sys.argv[2:]}
held, ports = [], []
while len(ports) < count:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    if s.getsockname()[1] not in taken:
        ports.append(s.getsockname()[1])
print(" ".join(map(str, ports)))
PY
}

# Prints a TCP port that nothing listens on.
free_port() {
  free_ports 1
}

postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a Postgres binary as the owner of the data folder: Postgres refuses to run as root.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DIR PORT: a new cluster in DIR, listening on 127.0.0.1:PORT, with a `parley` superuser.
start_postgres() {
  local dir=$1 port=$2 bin
  bin=$(postgres_bin)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_postgres "$bin/initdb" -D "$dir/data" -U parley -A trust --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log"; return 1; }
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${POSTGRES_OPTIONS:-}" start >/dev/null \
    || { cat "$dir/postgres.log"; return 1; }
}

stop_postgres() {
  local dir=$1
  [ -d "$dir/data" ] && as_postgres "$(postgres_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# start_redis DIR PORT [OPTION...]: a Redis with no persistence on 127.0.0.1:PORT, with redis-server's OPTIONs.
start_redis() {
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" "$@"
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis on $port did not start"; cat "$dir/redis.log"; return 1
}

# moto's S3 server on loopback, in the background, for the files tests; stop_s3 stops it.
start_s3() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  .test/venv/bin/moto_server -H 127.0.0.1 -p "$port" > "$dir/moto.log" 2>&1 &
  echo $! > "$dir/moto.pid"
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the S3 server did not start"; cat "$dir/moto.log"; return 1
}

stop_s3() {
  local dir=$1
  [ -f "$dir/moto.pid" ] && kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
}

# SIGTERM, then SIGKILL after 5 s: a Redis started by a Swift process (the chaos run's restart) inherits a signal
# mask that blocks SIGTERM.
stop_redis() {
  local dir=$1 pid
  [ -f "$dir/redis.pid" ] || return 0
  pid=$(cat "$dir/redis.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# start_redis_cluster DIR MASTERS: a Redis Cluster of MASTERS masters, each with a replica, on free loopback ports,
# made with `redis-cli --cluster create`; DIR/seeds holds its nodes as REDIS_CLUSTER takes them (host:port,...), and
# DIR/node-PORT each node's files.
start_redis_cluster() {
  local dir=$1 masters=$2 ports seeds=""
  ports=$(free_ports $((masters * 4)))
  set -- $ports
  while [ $# -gt 0 ]; do
    start_redis_cluster_node "$dir/node-$1" "$1" "$2" || return 1
    seeds="$seeds${seeds:+,}127.0.0.1:$1"
    shift 2
  done
  redis-cli --cluster create ${seeds//,/ } --cluster-replicas 1 --cluster-yes > "$dir/create.log" 2>&1 \
    || { echo "redis-cli --cluster create failed"; cat "$dir/create.log"; return 1; }
  wait_redis_cluster "$seeds" || { cat "$dir/create.log"; return 1; }
  echo "$seeds" > "$dir/seeds"
}

# start_redis_cluster_node NODE_DIR PORT BUS_PORT: one node of a Redis Cluster, or the same again after a kill (its
# nodes.conf makes it rejoin; a master whose replica took over comes back as a replica). The cluster bus gets a free
# port of its own: the default, the port + 10000, may be taken or past 65535. A short node timeout, so that a replica
# takes over a dead master within seconds.
start_redis_cluster_node() {
  local node=$1 port=$2 bus=$3
  mkdir -p "$node"
  echo "$port $bus" > "$node/ports"
  start_redis "$node" "$port" --cluster-enabled yes --cluster-port "$bus" --cluster-config-file "$node/nodes.conf" \
    --cluster-node-timeout "${REDIS_CLUSTER_NODE_TIMEOUT:-2000}" --repl-diskless-sync-delay 0
}

# wait_redis_cluster SEEDS: waits until every node of SEEDS (host:port,...) says cluster_state:ok, and every replica
# has its master's data: a replica that never synced cannot take over.
wait_redis_cluster() {
  local address ok
  for _ in $(seq 150); do
    ok=1
    for address in ${1//,/ }; do
      redis-cli -p "${address##*:}" cluster info 2>/dev/null | grep -q "cluster_state:ok" || ok=0
      redis-cli -p "${address##*:}" info replication 2>/dev/null | grep -q "master_link_status:down" && ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  echo "the Redis Cluster is not ok"; return 1
}

# stop_redis_cluster DIR: stops every node start_redis_cluster started in DIR.
stop_redis_cluster() {
  local node
  for node in "$1"/node-*; do
    [ -d "$node" ] && stop_redis "$node"
  done
  return 0
}

# Puts the Swift toolchain on PATH where this machine keeps it.
use_swift() {
  command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH
  command -v swift >/dev/null 2>&1 || { echo "Swift 6 is required: https://swift.org/install"; return 1; }
}

# A Python virtual environment in .test/venv with the test suite's packages from PyPI (e2e/requirements.txt).
ensure_test_python() {
  [ -x .test/venv/bin/python ] || python3 -m venv .test/venv
  echo "==> pip install -r e2e/requirements.txt"
  .test/venv/bin/pip install -q --disable-pip-version-check -r e2e/requirements.txt
}
