#!/bin/sh
# Start netconf-emulator, wait until every device accepts sessions, run a test
# command (any language), stop the emulator; exit with the command's status.
#
#   examples/ci/run-with-emulator.sh go test ./...
#   NETCONF_EMULATOR_ARGS="--fleet lab.yaml --clock virtual" examples/ci/run-with-emulator.sh npm test
#
# The command finds the emulator in its environment:
#   NETCONF_EMULATOR_READY_FILE  the ready file (JSON: port, api, every device's URLs)
#   NETCONF_EMULATOR_API         e.g. http://127.0.0.1:41237/api/
#   NETCONF_EMULATOR_PORT        e.g. 41237 (devices: ws://127.0.0.1:$PORT/netconf/NAME)
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi
EMULATOR=${NETCONF_EMULATOR:-netconf-emulator}
READY_TIMEOUT=${NETCONF_EMULATOR_READY_TIMEOUT:-60}     # seconds

work=$(mktemp -d)
ready="$work/ready.json"
# shellcheck disable=SC2086  # NETCONF_EMULATOR_ARGS is split into options on purpose
$EMULATOR serve --port 0 --data-dir "$work/data" --ready-file "$ready" \
    ${NETCONF_EMULATOR_ARGS:-} >"$work/serve.log" 2>&1 &
server=$!
stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# The ready file appears, whole, once every device accepts sessions.
tries=$((READY_TIMEOUT * 10))
while [ ! -f "$ready" ]; do
    if ! kill -0 "$server" 2>/dev/null; then
        cat "$work/serve.log" >&2
        echo "$0: netconf-emulator did not start" >&2
        exit 1
    fi
    tries=$((tries - 1))
    if [ "$tries" -le 0 ]; then
        echo "$0: netconf-emulator not ready after $READY_TIMEOUT s" >&2
        exit 1
    fi
    sleep 0.1
done

field() {   # a top-level field of the ready file (without jq)
    sed -n "s/^ \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$ready"
}
NETCONF_EMULATOR_READY_FILE=$ready
NETCONF_EMULATOR_API=$(field api)
NETCONF_EMULATOR_PORT=$(field port)
export NETCONF_EMULATOR_READY_FILE NETCONF_EMULATOR_API NETCONF_EMULATOR_PORT

status=0
"$@" || status=$?
exit "$status"
