#!/usr/bin/env bash
# nats-cluster.sh - a three-node NATS JetStream cluster on 127.0.0.1, for
# the tests, the demo and humans (README, Many provinces).
#
#   nats-cluster.sh start DIR         nodes n1, n2, n3 on free ports, their
#                                     JetStream stores in DIR/n1 ...; returns
#                                     once every node says JetStream is
#                                     ready (/healthz), and prints the client
#                                     URLs, comma-separated
#   nats-cluster.sh stop DIR          SIGTERM every node, wait until gone
#   nats-cluster.sh urls DIR          the client URLs, comma-separated
#   nats-cluster.sh kill DIR N        SIGKILL node N (1..3), wait until gone
#   nats-cluster.sh stop-node DIR N   SIGTERM node N, wait until gone
#   nats-cluster.sh start-node DIR N  start node N again (same ports, store),
#                                     without waiting for it
#   nats-cluster.sh wait DIR [N...]   wait until those nodes (default all)
#                                     say JetStream is ready
#   nats-cluster.sh store DIR N       node N's JetStream directory
#
# DIR holds nN.conf, nN.log, nN.pid and the ports (DIR/ports: one line per
# node, "client cluster monitor").  Each node's configuration is the
# three-node one of the README: server_name, a client port, cluster
# { name, listen, routes to all three }, jetstream { store_dir }, and an
# HTTP monitoring port for /healthz.  Needs nats-server (Debian's 2.9.10)
# and /usr/bin/python3 (to find free ports).
set -euo pipefail

NODES=3
WAIT_SECONDS=${NATS_CLUSTER_WAIT_SECONDS:-30}

die() {
  echo "nats-cluster.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Three free TCP ports per node, from the kernel (bound to 0, then let go).
free_ports() {
  /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_of() { # DIR N FIELD(1 client, 2 cluster, 3 monitor)
  awk -v n="$2" -v f="$3" 'NR == n { print $f }' "$1/ports"
}

urls() {
  local dir=$1 out="" n
  for n in $(seq 1 $NODES); do
    out+="${out:+,}nats://127.0.0.1:$(port_of "$dir" "$n" 1)"
  done
  echo "$out"
}

write_conf() { # DIR N
  local dir=$1 n=$2 routes="" m
  for m in $(seq 1 $NODES); do
    routes+="${routes:+, }nats-route://127.0.0.1:$(port_of "$dir" "$m" 2)"
  done
  mkdir -p "$dir/n$n"
  cat >"$dir/n$n.conf" <<EOF
server_name: n$n
listen: 127.0.0.1:$(port_of "$dir" "$n" 1)
http: 127.0.0.1:$(port_of "$dir" "$n" 3)
jetstream {
  store_dir: "$dir/n$n"
  max_memory_store: 268435456
  max_file_store: 8589934592
}
cluster {
  name: povtrack
  listen: 127.0.0.1:$(port_of "$dir" "$n" 2)
  routes: [ $routes ]
}
EOF
}

start_node() { # DIR N
  local dir=$1 n=$2
  [ -f "$dir/n$n.conf" ] || die "$dir/n$n.conf: no such node (start first)"
  if node_alive "$dir" "$n"; then
    die "node n$n already runs (pid $(cat "$dir/n$n.pid"))"
  fi
  nats-server -c "$dir/n$n.conf" >>"$dir/n$n.log" 2>&1 &
  echo $! >"$dir/n$n.pid"
}

node_alive() { # DIR N
  [ -f "$1/n$2.pid" ] && kill -0 "$(cat "$1/n$2.pid")" 2>/dev/null
}

# /healthz of node N says ok: it runs, and its JetStream is current.
node_ready() { # DIR N
  local port reply
  port=$(port_of "$1" "$2" 3)
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" &&
    printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && cat <&3) 2>/dev/null) ||
    return 1
  [[ $reply == *'"status":"ok"'* ]]
}

wait_ready() { # DIR N...
  local dir=$1 n deadline=$((SECONDS + WAIT_SECONDS))
  shift
  for n in "$@"; do
    until node_ready "$dir" "$n"; do
      node_alive "$dir" "$n" || die "node n$n died: see $dir/n$n.log"
      [ $SECONDS -lt $deadline ] ||
        die "node n$n not ready within ${WAIT_SECONDS}s: see $dir/n$n.log"
      sleep 0.1 # between two asks of /healthz
    done
  done
}

signal_node() { # DIR N SIGNAL: and wait until the process is gone
  local dir=$1 n=$2 sig=$3 pid deadline=$((SECONDS + WAIT_SECONDS))
  node_alive "$dir" "$n" || return 0
  pid=$(cat "$dir/n$n.pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  # Not our child when started by an earlier call: poll /proc.
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "node n$n (pid $pid) did not exit"
    sleep 0.05
  done
  rm -f "$dir/n$n.pid"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
shift 2
case $cmd in
start)
  command -v nats-server >/dev/null || die "nats-server is not installed"
  mkdir -p "$dir"
  [ ! -f "$dir/ports" ] || die "$dir already holds a cluster (stop it first)"
  read -r -a p <<<"$(free_ports $((3 * NODES)))"
  for n in $(seq 1 $NODES); do
    i=$((3 * (n - 1)))
    echo "${p[$i]} ${p[$((i + 1))]} ${p[$((i + 2))]}" >>"$dir/ports"
  done
  for n in $(seq 1 $NODES); do
    write_conf "$dir" "$n"
    start_node "$dir" "$n"
  done
  wait_ready "$dir" $(seq 1 $NODES)
  urls "$dir"
  ;;
stop)
  [ -f "$dir/ports" ] || exit 0
  for n in $(seq 1 $NODES); do
    node_alive "$dir" "$n" && kill -TERM "$(cat "$dir/n$n.pid")" 2>/dev/null
  done
  for n in $(seq 1 $NODES); do signal_node "$dir" "$n" TERM; done
  rm -f "$dir/ports"
  ;;
urls) urls "$dir" ;;
kill) signal_node "$dir" "${1:?node number}" KILL ;;
stop-node) signal_node "$dir" "${1:?node number}" TERM ;;
start-node) start_node "$dir" "${1:?node number}" ;;
wait)
  if [ $# -eq 0 ]; then set -- $(seq 1 $NODES); fi
  wait_ready "$dir" "$@"
  ;;
store) echo "$dir/n${1:?node number}/jetstream" ;;
*) usage ;;
esac
