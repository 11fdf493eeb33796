#!/bin/bash
# Regenerates the wscap non-WebSocket test captures from scratch.
#
#   sudo ./make.sh            # all captures
#   sudo ./make.sh ssh redis  # only some (names as in the list below)
#
# Needs root (tcpdump on lo, sshd, starting daemons), Debian 12 apt, the Go
# module proxy (Go at /usr/local/go/bin) and the npm registry. Every capture
# is real traffic between real programs over the loopback interface; each
# capture uses its own TCP port(s) and the tcpdump filter only matches those.
# Output goes next to this script (override with OUT=dir).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(dirname "$HERE")}
export PATH=/usr/local/go/bin:$PATH
export DEBIAN_FRONTEND=noninteractive
ALL="tls13-go tls12-openssl tls13-node tls-chromium http11 h2c grpc ssh redis postgres mqtt dns-tcp memcached random random-low mixed wss-chromium"
WANT=${*:-$ALL}

WORK=$(mktemp -d /tmp/nonws-make.XXXXXX)
chmod 755 "$WORK"
BIN=$WORK/bin
PIDS=()
LO_OFFLOAD_SAVED=""
log() { printf '\n=== %s\n' "$*"; }

cleanup() {
	local p
	lo_restore || true
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# start_bg CMD...: start a daemon in the background, remember its pid in $BGPID.
start_bg() {
	"$@" &
	BGPID=$!
	PIDS+=("$BGPID")
}
stop() { # stop PID: SIGTERM one process we started and wait for it
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
# Waiting with a connect would put an extra connection into the capture, so
# servers are always waited for with wait_listen (ss) instead.
wait_listen() {
	for _ in $(seq 100); do
		if ss -Htln "sport = :$1" | grep -q .; then return 0; fi
		sleep 0.1
	done
	echo "nothing listening on port $1" >&2
	return 1
}

# cap_start FILE FILTER / cap_stop: tcpdump on lo, as the README describes.
cap_start() {
	CAPFILE=$OUT/$1
	rm -f "$CAPFILE"
	: >"$WORK/tcpdump.err"
	tcpdump -i lo -U --immediate-mode -s 262144 -B 65536 -Z root -w "$CAPFILE" "$2" 2>"$WORK/tcpdump.err" &
	CAPPID=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$WORK/tcpdump.err" && break
		sleep 0.05
	done
	grep -q "listening on" "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err"; exit 1; }
	sleep 0.2
}
cap_stop() {
	sleep 0.3
	kill -INT "$CAPPID"
	wait "$CAPPID" || true
	echo "$(basename "$CAPFILE"): $(grep 'packets captured' "$WORK/tcpdump.err"), $(stat -c %s "$CAPFILE") bytes"
}
want() { [[ " $WANT " == *" $1 "* ]]; }

# ---------------------------------------------------------------- setup
log "installing packages"
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends \
	tcpdump tshark iproute2 ethtool curl chromium openssh-server openssh-client \
	redis-server redis-tools postgresql mosquitto mosquitto-clients \
	dnsmasq-base dnsutils memcached openssl >/dev/null

log "building helpers"
(cd "$HERE/go" && go build -o "$BIN/" ./...)
(cd "$HERE/node" && npm install --no-audit --no-fund --silent)

# Self-signed certificates for CN/SAN localhost: ECDSA P-256 for Go/node/
# chromium servers, RSA 2048 for openssl s_server (so that TLS 1.2 RSA key
# exchange suites can be offered too).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
	-keyout "$WORK/rsa-key.pem" -out "$WORK/rsa-cert.pem" -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

# Loopback has a 65536-byte MTU and TSO/GSO, so every write appears in a
# capture on lo as one (super-)segment. For the chromium captures the server
# advertises MSS 1460 (TCP_MAXSEG on its listener) and TSO/GSO on lo are
# switched off for the duration, so TCP really cuts segments of at most
# 1448 payload bytes (1460 minus 12 bytes of timestamp option), as on
# Ethernet. The previous lo settings are restored afterwards.
lo_segment_like_ethernet() {
	LO_OFFLOAD_SAVED=$(ethtool -k lo | awk '/^tcp-segmentation-offload:/{t=$2} /^generic-segmentation-offload:/{g=$2} END{print "tso " t " gso " g}')
	# shellcheck disable=SC2086
	ethtool -K lo tso off gso off
}
lo_restore() {
	# shellcheck disable=SC2086
	[ -n "$LO_OFFLOAD_SAVED" ] && ethtool -K lo $LO_OFFLOAD_SAVED
	LO_OFFLOAD_SAVED=""
}

chromium_get() { # chromium_get URL KEYLOG: headless chromium --dump-dom
	SSLKEYLOGFILE=$2 timeout 60 chromium --headless --no-sandbox --disable-gpu \
		--disable-background-networking --ignore-certificate-errors \
		--host-resolver-rules="MAP localhost 127.0.0.1" \
		--user-data-dir="$(mktemp -d "$WORK/chrome.XXXXXX")" --dump-dom "$1" 2>"$WORK/chromium.err"
}

# ---------------------------------------------------------------- 1 tls13-go
if want tls13-go; then
	log "tls13-go: Go crypto/tls, 60 TLS 1.3 connections, port 14431"
	cap_start tls13-go.pcap 'tcp port 14431'
	"$BIN/tlsconns" -addr 127.0.0.1:14431 -n 60 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -keylog "$OUT/tls13-go.keys"
	cap_stop
fi

# ---------------------------------------------------------------- 2 tls12-openssl
if want tls12-openssl; then
	log "tls12-openssl: openssl s_server -rev / s_client -tls1_2, port 14432"
	openssl version
	rm -f "$OUT/tls12-openssl.keys"
	cap_start tls12-openssl.pcap 'tcp port 14432'
	start_bg openssl s_server -accept 127.0.0.1:14432 -cert "$WORK/rsa-cert.pem" -key "$WORK/rsa-key.pem" -rev -naccept 4 -quiet
	SPID=$BGPID
	wait_listen 14432
	# Four connections: default suite; ChaCha20; static-RSA key exchange;
	# and a resumption of connection 1's session (abbreviated handshake).
	i=0
	for opts in "-sess_out $WORK/sess.pem" "-cipher ECDHE-RSA-CHACHA20-POLY1305" "-cipher AES128-GCM-SHA256" "-sess_in $WORK/sess.pem"; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		(printf 'hello from openssl s_client, connection %d\n' $i; sleep 0.2
		 printf 'a second line of data %d\n' $i; sleep 0.3) |
			openssl s_client -tls1_2 -connect 127.0.0.1:14432 -servername localhost \
				-keylogfile "$OUT/tls12-openssl.keys" -quiet -no_ign_eof $opts 2>/dev/null
	done
	wait "$SPID" || true
	cap_stop
fi

# ---------------------------------------------------------------- 3 tls13-node
if want tls13-node; then
	log "tls13-node: node https server+client, TLS 1.3, port 14433"
	cap_start tls13-node.pcap 'tcp port 14433'
	node "$HERE/node/tls13-node.js" 14433 "$WORK/cert.pem" "$WORK/key.pem" "$OUT/tls13-node.keys" 4
	cap_stop
fi

# ---------------------------------------------------------------- 4 tls-chromium
if want tls-chromium; then
	log "tls-chromium: headless chromium -> Go net/http HTTPS server (MSS 1460), port 14434"
	chromium --version 2>/dev/null
	rm -f "$OUT/tls-chromium.keys"
	lo_segment_like_ethernet
	cap_start tls-chromium.pcap 'tcp port 14434'
	start_bg "$BIN/httpsrv" -addr 127.0.0.1:14434 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -mss 1460
	SPID=$BGPID
	wait_listen 14434
	chromium_get https://localhost:14434/ "$OUT/tls-chromium.keys" >"$WORK/dom.html"
	grep -o '<p id="p">[^<]*' "$WORK/dom.html"
	sleep 0.5
	kill -INT "$SPID"; wait "$SPID" || true
	cap_stop
	lo_restore
	chmod 644 "$OUT/tls-chromium.keys"
fi

# ---------------------------------------------------------------- 5 http11
if want http11; then
	log "http11: Go net/http server, curl client, port 18081"
	curl --version | head -1
	cap_start http11.pcap 'tcp port 18081'
	start_bg "$BIN/httpsrv" -addr 127.0.0.1:18081
	SPID=$BGPID
	wait_listen 18081
	U=http://127.0.0.1:18081
	# connection 1: three GETs on one keep-alive connection, the third chunked
	curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{size_download} conn#%{num_connects}\n' \
		$U/ $U/hello $U/chunked
	# connection 2: POST with a 1 KB urlencoded body
	curl -sS -w ' %{http_code}\n' --data "payload=$(head -c 1000 /dev/zero | tr '\0' 'p')" $U/post
	# connection 3: 100 KB download
	curl -sS -o /dev/null -w '%{http_code} %{size_download} bytes\n' $U/big
	kill -INT "$SPID"; wait "$SPID" || true
	cap_stop
fi

# ---------------------------------------------------------------- 6 h2c / grpc
if want h2c; then
	log "h2c: Go x/net/http2 h2c server + http2.Transport{AllowHTTP}, port 18082"
	cap_start h2c.pcap 'tcp port 18082'
	"$BIN/h2cdemo" -addr 127.0.0.1:18082 -conns 2
	cap_stop
fi
if want grpc; then
	log "grpc: grpc-go health service, port 18083"
	cap_start grpc.pcap 'tcp port 18083'
	"$BIN/grpcdemo" -addr 127.0.0.1:18083
	cap_stop
fi

# ---------------------------------------------------------------- 7 ssh
if want ssh; then
	log "ssh: OpenSSH sshd on 127.0.0.1:12222, key login as root"
	S=$WORK/ssh
	mkdir -p "$S" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$S/host_ed25519" -C wscap-host
	ssh-keygen -q -t ed25519 -N '' -f "$S/user_ed25519" -C wscap-user
	cp "$S/user_ed25519.pub" "$S/authorized_keys"
	chmod 600 "$S/authorized_keys"
	cat >"$S/sshd_config" <<-EOF
		Port 12222
		ListenAddress 127.0.0.1
		HostKey $S/host_ed25519
		PidFile $S/sshd.pid
		AuthorizedKeysFile $S/authorized_keys
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		PrintMotd no
		LogLevel INFO
	EOF
	ssh -V
	cap_start ssh.pcap 'tcp port 12222'
	start_bg /usr/sbin/sshd -D -e -f "$S/sshd_config" 2>"$S/sshd.log"
	SPID=$BGPID
	wait_listen 12222
	ssh -i "$S/user_ed25519" -p 12222 -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 'echo hi; ls /'
	stop "$SPID"
	cap_stop
	grep -E 'Accepted|Disconnected|error' "$S/sshd.log" || true
fi

# ---------------------------------------------------------------- 8 redis
if want redis; then
	log "redis: redis-server on 16379, redis-cli + redis-benchmark"
	redis-server --version
	cap_start redis.pcap 'tcp port 16379'
	start_bg redis-server --port 16379 --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning
	SPID=$BGPID
	wait_listen 16379
	# one-shot redis-cli invocations, one connection each. (Commands piped
	# into a single interactive redis-cli would first fetch COMMAND DOCS,
	# a ~170 KB reply, which would blow the size budget.)
	RC="redis-cli -h 127.0.0.1 -p 16379"
	$RC PING
	$RC SET greeting "hello redis"
	$RC GET greeting
	$RC LPUSH mylist a b c
	$RC LPUSH mylist "d e f"
	$RC LRANGE mylist 0 -1
	$RC INCRBY counter 42
	$RC HSET user:1 name alice age 30
	$RC HGETALL user:1
	$RC SET binary "$(printf 'a\001b\002c')"
	$RC GET binary | od -c | head -1
	# one connection, five pipelined RESP commands (redis-cli --pipe mode)
	resp() { printf '*%d\r\n' $#; for a in "$@"; do printf '$%d\r\n%s\r\n' ${#a} "$a"; done; }
	{ resp SET piped:1 one; resp SET piped:2 two; resp MGET piped:1 piped:2; resp LPUSH piped:list x y z; resp LRANGE piped:list 0 -1; } |
		$RC --pipe
	redis-benchmark -h 127.0.0.1 -p 16379 -n 200 -c 2 -t set,get,lpush -q
	redis-cli -h 127.0.0.1 -p 16379 SHUTDOWN NOSAVE || true
	wait "$SPID" || true
	cap_stop
fi

# ---------------------------------------------------------------- 9 postgres
if want postgres; then
	log "postgres: initdb + pg_ctl on 15432, psql over TCP with scram-sha-256"
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
	P=$WORK/pg
	mkdir -p "$P/sock"
	echo 'wscap-test-pw' >"$P/pw"
	chown -R postgres: "$P"
	runuser -u postgres -- "$PGBIN/initdb" -D "$P/data" -U postgres --pwfile="$P/pw" \
		--auth-host=scram-sha-256 --auth-local=trust >/dev/null
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$P/data" -l "$P/log" -w \
		-o "-p 15432 -c listen_addresses=127.0.0.1 -c ssl=off -k $P/sock" start >/dev/null
	"$PGBIN/postgres" --version
	cap_start postgres.pcap 'tcp port 15432'
	PGPASSWORD=wscap-test-pw psql "host=127.0.0.1 port=15432 user=postgres dbname=postgres sslmode=disable" \
		-v ON_ERROR_STOP=1 <<-'EOF'
		SELECT version();
		CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int, data bytea);
		INSERT INTO items (name, qty, data) VALUES ('apple', 3, '\x000102'), ('pear', 5, NULL), ('plum', 7, '\xfffe');
		INSERT INTO items (name, qty) SELECT 'gen-' || g, g FROM generate_series(1, 20) g;
		SELECT id, name, qty, data FROM items WHERE qty > 4 ORDER BY id LIMIT 10;
		SELECT count(*), sum(qty) FROM items;
		UPDATE items SET qty = qty + 1 WHERE name = 'apple' RETURNING *;
		DROP TABLE items;
	EOF
	cap_stop
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$P/data" -m fast stop >/dev/null
fi

# ---------------------------------------------------------------- 10 mqtt
if want mqtt; then
	log "mqtt: mosquitto on 11883, mosquitto_sub/mosquitto_pub"
	M=$WORK/mqtt
	mkdir -p "$M"
	printf 'listener 11883 127.0.0.1\nallow_anonymous true\npersistence false\n' >"$M/mosquitto.conf"
	cap_start mqtt.pcap 'tcp port 11883'
	start_bg mosquitto -c "$M/mosquitto.conf"
	SPID=$BGPID
	wait_listen 11883
	start_bg mosquitto_sub -h 127.0.0.1 -p 11883 -q 1 -t 'demo/#' -C 7 -v -i wscap-sub
	SUBPID=$BGPID
	sleep 0.5
	mosquitto_pub -h 127.0.0.1 -p 11883 -t demo/hello -m 'hello mqtt, qos 0'
	mosquitto_pub -h 127.0.0.1 -p 11883 -t demo/q1 -q 1 -m 'qos 1 message'
	mosquitto_pub -h 127.0.0.1 -p 11883 -t demo/q2 -q 2 -m 'qos 2 message'
	printf 'bin\000\001\002\003\377' >"$M/bin"
	mosquitto_pub -h 127.0.0.1 -p 11883 -t demo/bin -f "$M/bin"
	# three messages on one publisher connection (-l: one message per line)
	printf 'line one\nline two\nline three\n' | mosquitto_pub -h 127.0.0.1 -p 11883 -t demo/lines -q 1 -l
	wait "$SUBPID" || true
	stop "$SPID"
	cap_stop
fi

# ---------------------------------------------------------------- 11 dns-tcp
if want dns-tcp; then
	log "dns-tcp: dnsmasq on 15353 (TCP), dig +tcp"
	D=$WORK/dns
	mkdir -p "$D"
	{
		echo "192.0.2.10 www.wscap.test"
		echo "192.0.2.11 mail.wscap.test"
		echo "2001:db8::10 www.wscap.test"
		for i in $(seq 1 40); do echo "198.51.100.$i many.wscap.test"; done
	} >"$D/hosts"
	TXT=()
	for i in $(seq 1 6); do TXT+=("--txt-record=txt.wscap.test,\"txt record $i: $(head -c 90 /dev/zero | tr '\0' 't')\""); done
	dnsmasq --version | head -1
	cap_start dns-tcp.pcap 'tcp port 15353'
	start_bg dnsmasq -k --user=root --port=15353 --listen-address=127.0.0.1 --bind-interfaces \
		--no-resolv --no-hosts --local=/wscap.test/ --addn-hosts="$D/hosts" --pid-file= --log-facility=- --log-queries \
		"${TXT[@]}" 2>"$D/dnsmasq.log"
	SPID=$BGPID
	wait_listen 15353
	dig -v 2>&1
	DIG="dig +tcp @127.0.0.1 -p 15353"
	$DIG www.wscap.test A +short
	$DIG www.wscap.test AAAA +short
	$DIG many.wscap.test A | grep -E 'ANSWER:|MSG SIZE'
	$DIG txt.wscap.test TXT | grep -E 'ANSWER:|MSG SIZE'
	$DIG nosuch.wscap.test A | grep -E 'status'
	# several queries on one TCP connection
	dig +tcp +keepopen @127.0.0.1 -p 15353 www.wscap.test A mail.wscap.test A many.wscap.test A txt.wscap.test TXT |
		grep -E 'ANSWER:|MSG SIZE'
	stop "$SPID"
	cap_stop
fi

# ---------------------------------------------------------------- 12 memcached
if want memcached; then
	log "memcached: binary protocol on 11311"
	memcached -V
	cap_start memcached.pcap 'tcp port 11311'
	start_bg memcached -u memcache -l 127.0.0.1 -p 11311 -U 0 -B binary
	SPID=$BGPID
	wait_listen 11311
	"$BIN/memcbin" -addr 127.0.0.1:11311
	stop "$SPID"
	cap_stop
fi

# ---------------------------------------------------------------- 13 random
if want random; then
	log "random: crypto/rand bytes both ways, port 19001"
	cap_start random.pcap 'tcp port 19001'
	"$BIN/randtcp" -addr 127.0.0.1:19001 -n 5 -chunks 8
	cap_stop
fi
if want random-low; then
	log "random-low: bytes from {0,1,2} both ways, port 19002"
	cap_start random-low.pcap 'tcp port 19002'
	"$BIN/randtcp" -addr 127.0.0.1:19002 -n 5 -chunks 8 -low
	cap_stop
fi

# ---------------------------------------------------------------- 14 mixed
if want mixed; then
	log "mixed: ws (18090) + Go TLS (14435) + redis (16380) + random (19003) at once"
	cap_start mixed.pcap 'tcp port 18090 or tcp port 14435 or tcp port 16380 or tcp port 19003'
	start_bg redis-server --port 16380 --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning
	RPID=$BGPID
	wait_listen 16380
	node "$HERE/node/ws-pair.js" 18090 >"$WORK/ws.out" &
	WSPID=$!
	"$BIN/tlsconns" -addr 127.0.0.1:14435 -n 12 -delay 200ms -cert "$WORK/cert.pem" -key "$WORK/key.pem" -keylog "$OUT/mixed.keys" &
	TLSPID=$!
	(for i in $(seq 1 8); do
		redis-cli -h 127.0.0.1 -p 16380 SET "mixed:$i" "value $i" >/dev/null
		redis-cli -h 127.0.0.1 -p 16380 LPUSH mixed:list "$i" >/dev/null
		sleep 0.25
	done; redis-cli -h 127.0.0.1 -p 16380 LRANGE mixed:list 0 -1 | tr '\n' ' '; echo) &
	REDPID=$!
	(sleep 0.5; "$BIN/randtcp" -addr 127.0.0.1:19003 -n 2 -chunks 4; sleep 1; "$BIN/randtcp" -addr 127.0.0.1:19003 -n 2 -chunks 4) &
	RNDPID=$!
	wait "$WSPID" "$TLSPID" "$REDPID" "$RNDPID"
	cat "$WORK/ws.out"
	redis-cli -h 127.0.0.1 -p 16380 SHUTDOWN NOSAVE || true
	wait "$RPID" || true
	cap_stop
fi

# ---------------------------------------------------------------- 15 wss-chromium
if want wss-chromium; then
	log "wss-chromium: headless chromium wss:// to node https + ws, port 14436"
	rm -f "$OUT/wss-chromium.keys"
	cap_start wss-chromium.pcap 'tcp port 14436'
	node "$HERE/node/wss-server.js" 14436 "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/wss.out" 2>"$WORK/wss.err" &
	SPID=$!
	wait_listen 14436
	chromium_get https://localhost:14436/ "$OUT/wss-chromium.keys" | grep -o '<pre id="out">[^<]*'
	wait "$SPID" || true
	cat "$WORK/wss.err" "$WORK/wss.out"
	cap_stop
	chmod 644 "$OUT/wss-chromium.keys"
fi

log "verifying (tshark) -> verify.txt"
DIR=$OUT "$HERE/verify.sh" >"$OUT/verify.txt"
log "done"
ls -l "$OUT"/*.pcap "$OUT"/*.keys 2>/dev/null
du -ch "$OUT"/*.pcap | tail -1
