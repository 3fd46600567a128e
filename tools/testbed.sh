#!/usr/bin/env bash
# A network of hosts on one machine, for distributed runs (docs/distributed.md):
# each host is a network namespace, snn-h0 … snn-h{N-1}, at 10.77.0.1 …
# 10.77.0.N, all on one switch (tools/testbed/linkem.cpp, run in namespace
# snn-sw). The link out of snn-h0 (the edge, towards the cloud) can be limited
# in rate and given latency and loss, as tc netem would; the switch does it in
# user space, so the kernel needs no sch_netem, only TAP devices. OpenMPI jobs
# run across the hosts over TCP, one rank per host.
#
#   tools/testbed.sh up [--hosts N] [--rate R] [--delay D] [--loss L] [--both] [--all] [--seed S]
#       N hosts (default 2). R: rate of the edge→cloud link (bit/s, or with
#       kbit, mbit, gbit; default 0, no limit); D: its one-way delay (us, ms
#       or s; default 0); L: its loss (a percentage such as 1%, each frame on
#       its own; default 0%). --both shapes the way back (cloud→edge) the same;
#       --all shapes every host's link, not only snn-h0's. S seeds the losses.
#   tools/testbed.sh down            removes all of it (safe to repeat, also after a crash)
#   tools/testbed.sh status          namespaces, addresses and shaping
#   tools/testbed.sh mpirun ARGS...  mpirun inside snn-h0, ranks on the hosts in order
#                                    (rank r on snn-hr with -np N)
#   tools/testbed.sh pingpong [--reps R] [--bytes B] [--rounds K]
#                                    round trip and throughput between snn-h0 and snn-h1
#   tools/testbed.sh exec HOST CMD...  CMD inside host HOST (0, 1, … or snn-hI)
#
# Needs root, iproute2, /dev/net/tun, g++, and OpenMPI (openmpi-bin,
# libopenmpi-dev). The programs it builds and its state (hostfile, switch
# log) live in $SNN_TESTBED_DIR (default /tmp/NAME-testbed). NAME, from
# $SNN_TESTBED_NAME (default snn), prefixes the namespaces, so that test beds
# of different names live side by side (tools/check_testbed.sh uses its own).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${SNN_TESTBED_NAME:-snn}"
[[ "$name" =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "testbed.sh: SNN_TESTBED_NAME=$name: expected 1 to 8 lower-case letters and digits, a letter first" >&2; exit 1; }
export SNN_TESTBED_NAME="$name" # netns_agent.sh, started by mpirun, reads it
state="${SNN_TESTBED_DIR:-/tmp/$name-testbed}"
subnet=10.77.0 # netns_agent.sh maps these addresses back to namespaces

die() {
    echo "testbed.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '/^#   tools/,/^# Needs/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# 1mbit → 1000000 (tc's units: bit, kbit, mbit, gbit, or a plain number of bit/s).
rate_bps() {
    local v="$1"
    [[ "$v" =~ ^([0-9]+([.][0-9]+)?)(bit|kbit|mbit|gbit)?$ ]] || die "--rate $v: expected bit/s, such as 1mbit, 500kbit or 2000000"
    local scale=1
    case "${BASH_REMATCH[3]}" in kbit) scale=1e3 ;; mbit) scale=1e6 ;; gbit) scale=1e9 ;; esac
    awk -v x="${BASH_REMATCH[1]}" -v s="$scale" 'BEGIN { printf "%.0f", x * s }'
}

# 50ms → 50000 (microseconds; us, ms or s, a plain number is ms as for tc).
delay_us() {
    local v="$1"
    [[ "$v" =~ ^([0-9]+([.][0-9]+)?)(us|ms|s)?$ ]] || die "--delay $v: expected a time, such as 50ms, 200us or 0.1s"
    local scale=1e3
    case "${BASH_REMATCH[3]}" in us) scale=1 ;; s) scale=1e6 ;; esac
    awk -v x="${BASH_REMATCH[1]}" -v s="$scale" 'BEGIN { printf "%.0f", x * s }'
}

# 1% → 0.01
loss_fraction() {
    local v="$1"
    [[ "$v" =~ ^([0-9]+([.][0-9]+)?)%$ ]] || die "--loss $v: expected a percentage, such as 1% or 0.5%"
    awk -v x="${BASH_REMATCH[1]}" 'BEGIN { if (x > 100) exit 1; printf "%.6f", x / 100 }' || die "--loss $v: at most 100%"
}

# Builds tools/testbed/PROGRAM.cpp into $state/bin/PROGRAM unless that was
# built from the same source (compared by content: the state folder may have
# been filled from another checkout).
build() {
    local src="$root/tools/testbed/$1.cpp" bin="$state/bin/$1" compiler="$2"
    mkdir -p "$state/bin"
    if [ ! -x "$bin" ] || ! cmp -s "$src" "$bin.cpp"; then
        command -v "$compiler" >/dev/null || die "$compiler not found (apt-get install ${3:-g++})"
        "$compiler" -std=c++20 -O2 -Wall -o "$bin.tmp" "$src" && mv "$bin.tmp" "$bin" && cp "$src" "$bin.cpp"
    fi
}

hosts_up() { [ -e "/run/netns/$name-sw" ]; }

cmd_down() {
    if [ -s "$state/linkem.pid" ]; then
        local pid
        pid="$(cat "$state/linkem.pid")"
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = linkem ]; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
        fi
    fi
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$name-(h[0-9]+|sw)\$" || true); do
        ip netns del "$ns"
    done
    rm -f "$state/linkem.pid" "$state/linkem.ready" "$state/hostfile" "$state/shape"
    echo "testbed: down"
}

cmd_up() {
    local hosts=2 rate=0 delay=0 loss=0% both=0 all=0 seed=1
    while [ $# -gt 0 ]; do
        case "$1" in
            --hosts) hosts="${2:?--hosts needs a value}"; shift 2 ;;
            --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
            --delay) delay="${2:?--delay needs a value}"; shift 2 ;;
            --loss) loss="${2:?--loss needs a value}"; shift 2 ;;
            --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
            --both) both=1; shift ;;
            --all) all=1; shift ;;
            *) die "up: unknown option '$1' (tools/testbed.sh with no arguments lists them)" ;;
        esac
    done
    [[ "$hosts" =~ ^[0-9]+$ ]] && [ "$hosts" -ge 2 ] && [ "$hosts" -le 250 ] || die "--hosts $hosts: expected 2 to 250"
    [[ "$seed" =~ ^[0-9]+$ ]] || die "--seed $seed: expected a whole number"
    local bps us p
    bps="$(rate_bps "$rate")"
    us="$(delay_us "$delay")"
    p="$(loss_fraction "$loss")"
    [ "$(id -u)" -eq 0 ] || die "up: needs root (network namespaces)"
    command -v ip >/dev/null || die "up: ip not found (apt-get install iproute2)"
    [ -c /dev/net/tun ] || die "up: /dev/net/tun is missing (the switch needs TAP devices)"
    hosts_up && die "up: the test bed is already up (tools/testbed.sh down first)"
    build linkem g++

    trap 'echo "testbed.sh: up failed; taking down what it made" >&2; cmd_down >/dev/null' ERR
    ip netns add "$name-sw"
    ip -n "$name-sw" link set lo up
    local shapes=() i
    for ((i = 0; i < hosts; ++i)); do
        if [ "$i" -eq 0 ] || [ "$all" -eq 1 ]; then
            shapes+=(--shape "$i:up:$bps:$us:$p")
            [ "$both" -eq 1 ] && shapes+=(--shape "$i:down:$bps:$us:$p")
        fi
    done
    rm -f "$state/linkem.ready"
    ip netns exec "$name-sw" setsid "$state/bin/linkem" --ports "$hosts" --seed "$seed" --ready "$state/linkem.ready" \
        "${shapes[@]}" >"$state/linkem.log" 2>&1 </dev/null &
    echo $! >"$state/linkem.pid"
    for _ in $(seq 100); do [ -e "$state/linkem.ready" ] && break; sleep 0.05; done
    [ -e "$state/linkem.ready" ] || { cat "$state/linkem.log" >&2; false; }
    : >"$state/hostfile"
    for ((i = 0; i < hosts; ++i)); do
        local ns="$name-h$i"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$name-sw" link set "tb-p$i" netns "$ns"
        ip -n "$ns" link set "tb-p$i" name eth0
        ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
        ip -n "$ns" link set eth0 up
        echo "$subnet.$((i + 1)) slots=1" >>"$state/hostfile"
    done
    trap - ERR
    local scope="$name-h0's link"
    [ "$all" -eq 1 ] && scope="every host's link"
    local way="out of the host"
    [ "$all" -eq 0 ] && way="out (edge→cloud)"
    [ "$both" -eq 1 ] && way="out and back"
    echo "rate=$rate delay=$delay loss=$loss on $scope, $way" >"$state/shape"
    echo "testbed: up, $hosts hosts $name-h0 … $name-h$((hosts - 1)) at $subnet.1 … $subnet.$hosts;" \
        "$(cat "$state/shape"); hostfile $state/hostfile"
}

cmd_status() {
    hosts_up || { echo "testbed: down"; return 0; }
    echo "testbed: up; $(cat "$state/shape" 2>/dev/null)"
    local ns
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^$name-h[0-9]+\$" | sort -V); do
        echo "  $ns $(ip -n "$ns" -4 -o addr show dev eth0 | awk '{print $4}')"
    done
}

cmd_mpirun() {
    hosts_up || die "mpirun: the test bed is down (tools/testbed.sh up first)"
    command -v mpirun >/dev/null || die "mpirun: not found (apt-get install openmpi-bin libopenmpi-dev)"
    # ssh's place is taken by netns_agent.sh; TCP only, on the test bed's
    # addresses (OpenMPI would otherwise also try shared memory, which would
    # bypass the links, and every interface it sees). Each host has one slot,
    # so OpenMPI would busy-poll; all the hosts share this machine's cores
    # with the switch, so an idle rank yields instead (unshaped round trips:
    # ~8 ms busy-polling on 2 loaded cores, ~0.1 ms yielding).
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        ip netns exec "$name-h0" mpirun --hostfile "$state/hostfile" \
        --mca plm_rsh_agent "$root/tools/testbed/netns_agent.sh" \
        --mca pml ob1 --mca btl tcp,self --mca mpi_yield_when_idle 1 \
        --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
        "$@"
}

cmd_pingpong() {
    build mpi_pingpong mpicxx libopenmpi-dev
    cmd_mpirun -np 2 "$state/bin/mpi_pingpong" "$@"
}

cmd_exec() {
    [ $# -ge 2 ] || die "exec: usage: tools/testbed.sh exec HOST CMD..."
    local ns="$1"
    [[ "$ns" =~ ^[0-9]+$ ]] && ns="$name-h$ns"
    [ -e "/run/netns/$ns" ] || die "exec: no host $1 (tools/testbed.sh status lists them)"
    shift
    exec ip netns exec "$ns" "$@"
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    mpirun) cmd_mpirun "$@" ;;
    pingpong) cmd_pingpong "$@" ;;
    exec) cmd_exec "$@" ;;
    *) usage ;;
esac
