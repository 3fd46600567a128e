#!/usr/bin/env bash
# The test bed (tools/testbed.sh) end to end, under its own name so that it
# never touches a test bed in use: bad options refused in one line, three
# hosts up, an MPI job with one rank in each host's namespace (the ping-pong,
# which names them), a killed switch, and `down` leaving no namespace behind,
# twice. Exits 77 (skipped) without root, namespaces, TAP devices or OpenMPI.
# Checks no timings: the measured figures are in docs/distributed.md's
# commands, not here.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tb="$root/tools/testbed.sh"
skip() { echo "check_testbed: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
for c in ip g++ mpirun mpicxx; do command -v "$c" >/dev/null || skip "$c not found"; done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
export SNN_TESTBED_NAME="tbcheck"
SNN_TESTBED_DIR="$(mktemp -d)"
export SNN_TESTBED_DIR
ip netns add "$SNN_TESTBED_NAME-probe" 2>/dev/null || skip "cannot make network namespaces"
ip netns del "$SNN_TESTBED_NAME-probe"
trap '"$tb" down >/dev/null 2>&1; rm -rf "$SNN_TESTBED_DIR"' EXIT

failed=0
fail() { echo "FAIL: $*"; failed=1; }
namespaces() { ip netns list | awk '{print $1}' | grep -c -E "^$SNN_TESTBED_NAME-(h[0-9]+|sw)\$"; }

# Bad input: one line on stderr, exit code 1, nothing made.
for args in "--rate 1mbps" "--delay fast" "--loss 5" "--loss 101%" "--hosts 1" "--bogus"; do
    err="$("$tb" up $args 2>&1 >/dev/null)"
    rc=$?
    [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "up $args: exit $rc, message '$err'"
done
[ "$(namespaces)" -eq 0 ] || fail "a refused up left namespaces"
"$tb" mpirun -np 2 true 2>/dev/null && fail "mpirun on a test bed that is down succeeded"

"$tb" up --hosts 3 --rate 100mbit --delay 1ms --loss 0% --both >/dev/null || fail "up --hosts 3"
[ "$(namespaces)" -eq 4 ] || fail "up --hosts 3 made $(namespaces) namespaces, not 3 hosts and a switch"
status="$("$tb" status)"
for i in 0 1 2; do
    grep -q "$SNN_TESTBED_NAME-h$i 10.77.0.$((i + 1))/24" <<<"$status" || fail "status lacks host $i: $status"
done
"$tb" up --hosts 2 2>/dev/null && fail "a second up succeeded"

# One rank per host, in order, over the links (the ping-pong names each rank's namespace).
out="$("$tb" pingpong --reps 2 --bytes 4096 --rounds 1 2>&1)" || fail "pingpong: $out"
out3="$("$tb" mpirun -np 3 "$SNN_TESTBED_DIR/bin/mpi_pingpong" --reps 2 --bytes 4096 --rounds 1 2>&1)" || fail "mpirun -np 3: $out3"
for i in 0 1 2; do
    grep -q "^rank $i in network namespace $SNN_TESTBED_NAME-h$i\$" <<<"$out3" || fail "rank $i not in host $i: $out3"
done
for o in "$out" "$out3"; do
    grep -q "^round trip (8 bytes): median" <<<"$o" && grep -q "^throughput rank 0 -> 1:" <<<"$o" ||
        fail "no round trip or throughput: $o"
done

# A switch killed outright, then down: nothing left, and down again is fine.
kill -9 "$(cat "$SNN_TESTBED_DIR/linkem.pid")"
"$tb" down >/dev/null || fail "down after a killed switch"
[ "$(namespaces)" -eq 0 ] || fail "down left $(namespaces) namespaces"
"$tb" down >/dev/null || fail "a second down"
"$tb" status | grep -q "^testbed: down$" || fail "status after down"

[ "$failed" -eq 0 ] && echo "check_testbed: ok"
exit "$failed"
