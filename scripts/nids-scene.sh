#!/usr/bin/env bash
# The NIDS demo scene (examples/nids-demo) in network namespaces: a VNS3 manager, the internet,
# an overlay client, and two containers (a NIDS and a todo app) on the manager's plugin0 bridge.
#
#   scripts/nids-scene.sh up      [ID]   build the namespaces and start the servers
#   scripts/nids-scene.sh load    [ID]   overlayfw apply examples/nids-demo in the manager
#   scripts/nids-scene.sh unload  [ID]   delete overlayfw's table in the manager
#   scripts/nids-scene.sh traffic [ID]   run the traffic; one `RESULT name ok|fail detail` per check
#   scripts/nids-scene.sh down    [ID]   stop the servers, delete the namespaces (idempotent)
#   scripts/nids-scene.sh demo    [ID]   all of it: up, load, traffic, unload, traffic, down
#
# ID (default "demo") makes every name unique: namespaces are ofw-ID-{mgr,inet,client,nids,app},
# state (pids, fast.log) lives in ${TMPDIR:-/tmp}/ofw-scene-ID. Interfaces are created inside
# the namespaces, never in the caller's. OVERLAYFW names the binary (default: the repo's
# target/debug or target/release build, else `overlayfw` on PATH). Needs root, ip, nft, python3.
#
#   internet 203.0.113.1/24 ── eth0 203.0.113.10 [manager] tun0 100.64.0.1/19 ── 100.64.0.10 client
#                                            plugin0 198.51.100.1/28
#                                  ┌───────────────┴───────────────┐
#                          nids 198.51.100.2                 app 198.51.100.3 (:80)
set -euo pipefail

cmd=${1:-}
id=${2:-demo}
case "$id" in *[!A-Za-z0-9_-]* | "") echo "bad ID: $id" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
tools="$here/scene-tools.py"
state="${TMPDIR:-/tmp}/ofw-scene-$id"
p="ofw-$id"
MGR=$p-mgr INET=$p-inet CLIENT=$p-client NIDS=$p-nids APP=$p-app
ALL="$MGR $INET $CLIENT $NIDS $APP"
MGR_ETH0=203.0.113.10 INET_ADDR=203.0.113.1 CLIENT_ADDR=100.64.0.10
NIDS_ADDR=198.51.100.2 APP_ADDR=198.51.100.3
CARD=5105-1051-0510-5100
SERVE_SECONDS=${SCENE_SERVE_SECONDS:-300}   # servers end by themselves after this

if [ -z "${OVERLAYFW:-}" ]; then
    for b in "$repo/target/debug/overlayfw" "$repo/target/release/overlayfw"; do
        [ -x "$b" ] && OVERLAYFW=$b && break
    done
    OVERLAYFW=${OVERLAYFW:-overlayfw}
fi

nsx() { local ns=$1; shift; timeout 20 ip netns exec "$ns" "$@"; }
# A background actor in a namespace, bounded by its own deadline and by `timeout`; pid recorded.
spawn() {
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" timeout "$((SERVE_SECONDS + 10))" python3 "$tools" "$@" \
        >"$state/$name.out" 2>&1 &
    echo $! >"$state/$name.pid"
}
stop() {
    local f=$state/$1.pid
    [ -f "$f" ] || return 0
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
}
wait_listen() { # ns port: until something listens there (bounded)
    for _ in $(seq 50); do
        ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    echo "nothing listens on :$2 in $1" >&2
    return 1
}
# veth A:IFA <-> B:IFB, created inside namespace A, peer moved straight into B.
veth() { ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"; }

down() {
    for a in sniff http banner peer; do stop "$a"; done
    for ns in $ALL; do
        if ip netns list | grep -qw "^$ns"; then ip netns delete "$ns" || true; fi
    done
    rm -rf "$state"
}

up() {
    # A half-built scene is torn down before the error reaches the caller.
    trap 'down' ERR
    mkdir -p "$state"
    for ns in $ALL; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    # manager eth0 <-> internet
    veth "$MGR" eth0 "$INET" wan0
    ip -n "$MGR" addr add $MGR_ETH0/24 dev eth0
    ip -n "$INET" addr add $INET_ADDR/24 dev wan0
    # manager tun0 <-> overlay client
    veth "$MGR" tun0 "$CLIENT" ovl0
    ip -n "$MGR" addr add 100.64.0.1/19 dev tun0
    ip -n "$CLIENT" addr add $CLIENT_ADDR/19 dev ovl0
    # plugin0 bridge with the two containers
    ip -n "$MGR" link add plugin0 type bridge
    ip -n "$MGR" addr add 198.51.100.1/28 dev plugin0
    veth "$MGR" nids0 "$NIDS" eth0
    veth "$MGR" app0 "$APP" eth0
    ip -n "$NIDS" addr add $NIDS_ADDR/28 dev eth0
    ip -n "$APP" addr add $APP_ADDR/28 dev eth0
    for port in nids0 app0; do ip -n "$MGR" link set "$port" master plugin0; done
    for l in eth0 tun0 plugin0 nids0 app0; do ip -n "$MGR" link set "$l" up; done
    ip -n "$INET" link set wan0 up
    ip -n "$CLIENT" link set ovl0 up
    for ns in $NIDS $APP; do
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add default via 198.51.100.1
    done
    ip -n "$MGR" route add default via $INET_ADDR
    ip -n "$CLIENT" route add 198.51.100.0/28 via 100.64.0.1
    # The internet has no route to the containers: they reach it only through masquerade.
    nsx "$MGR" sysctl -qw net.ipv4.ip_forward=1
    spawn http "$APP" http-serve 80 "$SERVE_SECONDS"
    spawn banner "$NIDS" banner-serve 22 "SSH-2.0-OpenSSH_9.2 nids-demo" "$SERVE_SECONDS"
    spawn peer "$INET" peer-serve 7000 "$SERVE_SECONDS"
    wait_listen "$APP" 80
    wait_listen "$NIDS" 22
    wait_listen "$INET" 7000
    trap - ERR
    echo "scene $id is up: namespaces $ALL"
}

load() {
    OVERLAYFW_STATE_DIR="$state" nsx "$MGR" "$OVERLAYFW" apply \
        "$repo/examples/nids-demo/nids.rules" --inventory "$repo/examples/nids-demo/topology.yaml"
    echo "table ip overlayfw loaded in $MGR"
}

unload() {
    nsx "$MGR" nft delete table ip overlayfw
    echo "table ip overlayfw deleted in $MGR"
}

result() { # name ok|fail detail
    echo "RESULT $1 $2 $3"
    [ "$2" = ok ] || failed=1
}

traffic() {
    failed=0
    # 1. The overlay client POSTs a todo item with a card number; the NIDS watches.
    rm -f "$state/fast.log" "$state/sniff.ready"
    spawn sniff "$NIDS" sniff eth0 "$state/fast.log" "$state/sniff.ready" 10
    for _ in $(seq 50); do [ -f "$state/sniff.ready" ] && break; sleep 0.1; done
    local answer
    if answer=$(nsx "$CLIENT" python3 "$tools" http-post "http://$APP_ADDR/todo" \
        "pay the plumber with $CARD" 2>&1) && [[ "$answer" == *"$CARD"* ]]; then
        result http ok "app echoed: $answer"
    else
        result http fail "no echo: $answer"
    fi
    # The sniffer ends early once it has seen both directions; give the clones a moment.
    local pid
    pid=$(cat "$state/sniff.pid")
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    stop sniff
    [ -f "$state/fast.log" ] && cat "$state/fast.log"
    local c2a="{TCP} $CLIENT_ADDR:[0-9]+ -> $APP_ADDR:80\$"
    local a2c="{TCP} $APP_ADDR:80 -> $CLIENT_ADDR:[0-9]+\$"
    if grep -Eq "$c2a" "$state/fast.log" 2>/dev/null; then
        result mirror-client-to-app ok "NIDS alerted on $CLIENT_ADDR -> $APP_ADDR:80"
    else
        result mirror-client-to-app fail "no alert on $CLIENT_ADDR -> $APP_ADDR:80"
    fi
    if grep -Eq "$a2c" "$state/fast.log" 2>/dev/null; then
        result mirror-app-to-client ok "NIDS alerted on $APP_ADDR:80 -> $CLIENT_ADDR"
    else
        result mirror-app-to-client fail "no alert on $APP_ADDR:80 -> $CLIENT_ADDR"
    fi
    # 2. The internet reaches the NIDS's port 22 through port 2222 of the manager's eth0.
    local banner
    if banner=$(nsx "$INET" python3 "$tools" connect $MGR_ETH0 2222 2>&1) \
        && [[ "$banner" == SSH-2.0-* ]]; then
        result dnat ok "$MGR_ETH0:2222 answered: $banner"
    else
        result dnat fail "$MGR_ETH0:2222: ${banner##*$'\n'}"
    fi
    # 3. The NIDS reaches the internet from the manager's eth0 address.
    local peer
    if peer=$(nsx "$NIDS" python3 "$tools" connect $INET_ADDR 7000 2>&1) \
        && [[ "$peer" == "peer $MGR_ETH0:"* ]]; then
        result masquerade ok "the internet saw $peer"
    else
        result masquerade fail "the internet saw no connection from $MGR_ETH0: ${peer##*$'\n'}"
    fi
    return $failed
}

demo() {
    trap 'down' EXIT
    up
    load
    echo "== traffic with overlayfw's table =="
    traffic || true
    unload
    echo "== the same traffic without it (mirror, dnat, masquerade must fail) =="
    traffic || true
}

case "$cmd" in
    up) up ;;
    down) down ;;
    load) load ;;
    unload) unload ;;
    traffic) traffic ;;
    demo) demo ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
