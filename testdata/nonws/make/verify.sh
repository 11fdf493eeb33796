#!/bin/bash
# Summarises every capture in this folder with tshark: packets, TCP
# connections (SYNs, FINs, RSTs) and, where a .keys file exists, what the
# key log decrypts (TLS version, cipher suite, key-share group, SNI, ALPN,
# and counts of decrypted HTTP / HTTP/2 / WebSocket / raw data records).
# Usage: ./verify.sh [file.pcap ...]   (default: all *.pcap here)
set -uo pipefail
cd "${DIR:-$(dirname "$0")}"
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(*.pcap)
T() { tshark -n -r "$@" 2>/dev/null; }
count() { T "$1" "${@:3}" -Y "$2" | wc -l; }
uniq_fields() { T "$@" | tr ',' '\n' | sed '/^$/d' | sort | uniq -c | sort -rn | awk '{c=$1; $1=""; printf "%s(x%d) ", substr($0,2), c}'; }

# plaintext captures on non-standard ports: "port dissector filter"
declare -A DECODE=(
	[http11]="18081 http http.request||http.response"
	[h2c]="18082 http2 http2.type==1"
	[grpc]="18083 http2 grpc"
	[ssh]="12222 ssh ssh"
	[redis]="16379 resp resp"
	[postgres]="15432 pgsql pgsql"
	[mqtt]="11883 mqtt mqtt"
	[dns-tcp]="15353 dns dns"
	[memcached]="11311 memcache memcache"
)

for f in "${files[@]}"; do
	base=${f%.pcap}
	echo "== $f"
	echo "   $(stat -c %s "$f") bytes, $(T "$f" | wc -l) packets, link type: $(capinfos -E "$f" 2>/dev/null | awk -F': *' '/encapsulation/{print $2}')"
	ports=$(T "$f" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e tcp.dstport | sort -n | uniq -c | awk '{printf "%s:%d ", $2, $1}')
	echo "   TCP connections (SYN without ACK, by server port): $ports"
	echo "   TCP streams: $(T "$f" -T fields -e tcp.stream | sort -u | wc -l), FIN segments: $(count "$f" 'tcp.flags.fin==1'), RST segments: $(count "$f" 'tcp.flags.reset==1')"
	if [ -n "${DECODE[$base]:-}" ]; then
		read -r port proto filt <<<"${DECODE[$base]}"
		D=(-d "tcp.port==$port,$proto")
		echo "   tshark -d tcp.port==$port,$proto: $(count "$f" "$filt" "${D[@]}") frames match '$filt'; first lines:"
		T "$f" "${D[@]}" -Y "$filt" -T fields -e _ws.col.Info | awk '!seen[$0]++' | head -8 | cut -c1-110 | sed 's/^/      /'
	fi
	if [ -f "$base.keys" ]; then
		K=(-o "tls.keylog_file:$base.keys")
		echo "   key log $base.keys: $(grep -vc '^#' "$base.keys") secret lines"
		echo "   ClientHellos: $(count "$f" 'tls.handshake.type==1'), ServerHellos: $(count "$f" 'tls.handshake.type==2')"
		echo "   ServerHello version: $(T "$f" -Y 'tls.handshake.type==2' -T fields -e tls.handshake.extensions.supported_version -e tls.handshake.version | awk -F'\t' '{v=($1!=""?$1:$2); print (v=="0x0304"?"TLS1.3":v=="0x0303"?"TLS1.2":v)}' | sort | uniq -c | awk '{printf "%s(x%d) ", $2, $1}')"
		echo "   cipher suite: $(T "$f" -Y 'tls.handshake.type==2' -T fields -e tls.handshake.ciphersuite | sed 's/^0x1301$/TLS_AES_128_GCM_SHA256/; s/^0x1302$/TLS_AES_256_GCM_SHA384/; s/^0x1303$/TLS_CHACHA20_POLY1305_SHA256/; s/^0xc030$/ECDHE-RSA-AES256-GCM-SHA384/; s/^0xcca8$/ECDHE-RSA-CHACHA20-POLY1305/; s/^0x009c$/AES128-GCM-SHA256/' | sort | uniq -c | awk '{printf "%s(x%d) ", $2, $1}')"
		echo "   key exchange group (TLS1.3 ServerHello key_share / TLS1.2 ServerKeyExchange curve): $(T "$f" -Y 'tls.handshake.type==2 || tls.handshake.type==12' -T fields -e tls.handshake.extensions_key_share_group -e tls.handshake.server_named_curve | tr '\t,' '\n\n' | grep . | sed 's/^4588$/X25519MLKEM768/; s/^29$/x25519/; s/^0x001d$/x25519/; s/^23$/secp256r1/; s/^0x0017$/secp256r1/' | sort | uniq -c | awk '{printf "%s(x%d) ", $2, $1}')"
		echo "   SNI: $(uniq_fields "$f" -Y 'tls.handshake.type==1' -T fields -e tls.handshake.extensions_server_name)"
		echo "   ALPN offered: $(uniq_fields "$f" -Y 'tls.handshake.type==1' -T fields -e tls.handshake.extensions_alpn_str -E aggregator=+)"
		echo "   ALPN selected (ServerHello/EncryptedExtensions, decrypted): $(uniq_fields "$f" "${K[@]}" -Y 'tls.handshake.type==2 || tls.handshake.type==8' -T fields -e tls.handshake.extensions_alpn_str)"
		echo "   decrypted with key log: Finished msgs $(count "$f" 'tls.handshake.type==20' "${K[@]}"), frames with http $(count "$f" 'http' "${K[@]}"), http2 $(count "$f" 'http2' "${K[@]}"), websocket $(count "$f" 'websocket' "${K[@]}"), raw data $(count "$f" 'data' "${K[@]}")"
		echo "   without key log: Finished msgs $(count "$f" 'tls.handshake.type==20'), http $(count "$f" 'http'), http2 $(count "$f" 'http2'), websocket $(count "$f" 'websocket'), raw data $(count "$f" 'data')"
		ch=$(T "$f" -Y 'tls.handshake.type==1' -T fields -e tcp.stream -e tcp.reassembled.length -e tcp.segment.count -e tls.handshake.length | head -3 | awk -F'\t' '{printf "[stream %s: ClientHello handshake len %s, in %s TCP segment(s)%s] ", $1, $4, ($3==""?1:$3), ($2==""?"":", reassembled " $2 " bytes")}')
		echo "   first ClientHellos: $ch"
	fi
	K=()
	[ -f "$base.keys" ] && K=(-o "tls.keylog_file:$base.keys")
	if [ "$(count "$f" websocket "${K[@]}")" -gt 0 ]; then
		# one line per WebSocket frame: server port, client->server?, opcode
		T "$f" "${K[@]}" -Y websocket -T fields -e tcp.srcport -e tcp.dstport -e websocket.opcode |
			awk -F'\t' '{n=split($3,o,","); for(i=1;i<=n;i++){d=($1>$2)?"client->server":"server->client"; name=(o[i]==1?"text":o[i]==2?"binary":o[i]==0?"continuation":o[i]==8?"close":o[i]==9?"ping":o[i]==10?"pong":o[i]); c[d" "name]++}} END{for(k in c) printf "   websocket frames %s: %d\n", k, c[k]}' | sort
	fi
done
