#!/bin/sh
# regen.sh re-records the real WebSocket captures in testdata/real (run from anywhere, as root).
#
# Installs what the recorder needs (tcpdump and Debian's python3-websockets with apt-get, node's
# ws with npm into a temporary directory outside the repository), then runs
# internal/thirdparty/realcap/cmd/realcap (in the module internal/thirdparty). Pass scenario
# names to record only those, e.g.
#   sh internal/thirdparty/realcap/regen.sh gorilla-basic ipv6
# Afterwards run `(cd internal/thirdparty && go test ./realcap/)` and review the JSON diffs: payloads are fixed,
# but ports, masks, Sec-WebSocket-Key values, timestamps and sequence numbers change every run.
set -eu

WS_VERSION=8.23.0
repo=$(cd "$(dirname "$0")/../../.." && pwd)

need_apt=""
command -v tcpdump >/dev/null 2>&1 || need_apt="$need_apt tcpdump"
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need_apt="$need_apt python3-websockets"
command -v node >/dev/null 2>&1 || need_apt="$need_apt nodejs npm"
if [ -n "$need_apt" ]; then
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q $need_apt
fi

nodedir=$(mktemp -d)
trap 'rm -rf "$nodedir"' EXIT
(cd "$nodedir" && npm init -y >/dev/null && npm install --no-audit --no-fund "ws@$WS_VERSION" >/dev/null)

only=""
if [ $# -gt 0 ]; then
	only=$(echo "$*" | tr ' ' ',')
fi

cd "$repo/internal/thirdparty"
go run ./realcap/cmd/realcap -out "$repo/testdata/real" -peers "$repo/internal/thirdparty/realcap/peer" \
	-python /usr/bin/python3 -node-path "$nodedir/node_modules" ${only:+-only "$only"}
