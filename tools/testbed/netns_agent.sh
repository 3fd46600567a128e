#!/bin/sh
# OpenMPI's launcher agent for the test bed (tools/testbed.sh): takes ssh's
# place (`--mca plm_rsh_agent`). OpenMPI calls it as ssh:
#   netns_agent.sh [OPTIONS] HOST COMMAND...
# and it runs COMMAND with sh, as sshd would, inside the network namespace of
# HOST: 10.77.0.K is NAME-h(K-1) (the addresses tools/testbed.sh gives out;
# NAME is $SNN_TESTBED_NAME, set by tools/testbed.sh, default snn), and a
# namespace name NAME-hI stands for itself.
while [ $# -gt 0 ]; do
    case "$1" in
        -*) shift ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "netns_agent.sh: usage: netns_agent.sh HOST COMMAND..." >&2; exit 255; }
host="$1"
shift
name="${SNN_TESTBED_NAME:-snn}"
case "$host" in
    10.77.0.*)
        k="${host#10.77.0.}"
        case "$k" in '' | *[!0-9]*) echo "netns_agent.sh: $host is not a test bed address" >&2; exit 255 ;; esac
        ns="$name-h$((k - 1))"
        ;;
    "$name"-h*) ns="$host" ;;
    *) echo "netns_agent.sh: $host is not a test bed host (10.77.0.K or $name-hI)" >&2; exit 255 ;;
esac
[ -e "/run/netns/$ns" ] || { echo "netns_agent.sh: no namespace $ns (is the test bed up?)" >&2; exit 255; }
exec ip netns exec "$ns" sh -c "$*"
