-- wscap's ClickHouse schema: one table per record kind, written by
-- `wscap read|stats|live --sink clickhouse=URL` (INSERT ... FORMAT JSONEachRow).
--
-- Each kind has a local table, wscap_KIND_local, on every shard, and a
-- Distributed table, wscap_KIND, over the cluster `wscap` (remote_servers in
-- the servers' configuration). wscap writes to wscap_KIND; on a single
-- server, define the cluster with one shard, or write to the local tables
-- with `?suffix=_local` in the URL.
--
-- Every row carries the run's id and the record's sequence number in the
-- run: (run, seq) is unique, and the tables are ReplacingMergeTree, so that
-- a batch wscap sent again after an error, or a job run again on the same
-- files, replaces its rows. Read with FINAL (or after OPTIMIZE ... FINAL)
-- where a count must not see a retried batch twice.
--
-- The columns are the record's top-level fields (README.md, "JSON Lines
-- schema"), by the same names, and the record's time as a DateTime (UTC)
-- with its nanoseconds; `record` holds the record as JSON text (all but its
-- kind and conn) for the nested fields (visitParamExtract*, or JSONExtract*
-- on servers that have it). A message or frame has a `record` only when it
-- has nested fields (an application protocol's "app"): its columns are all
-- of it otherwise. Computed columns are MATERIALIZED in the local tables and
-- ALIAS in the Distributed ones (a Distributed table cannot take
-- MATERIALIZED columns on insert).
--
-- Types and functions are those of ClickHouse 18.16 (Debian 12's
-- clickhouse-server), which the tests run against; newer servers take it
-- as it is.

CREATE DATABASE IF NOT EXISTS wscap;

-- handshakes: one row per opening handshake (kind "handshake")
CREATE TABLE IF NOT EXISTS wscap.wscap_handshakes_local (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `client` String,
    `server` String,
    `captured` UInt8,
    `head_cut` UInt8,
    `status` UInt16,
    `method` String,
    `path` String,
    `host` String,
    `origin` String,
    `user_agent` String,
    `server_header` String,
    `version` String,
    `key` String,
    `accept` String,
    `expected_accept` String,
    `accept_valid` UInt8,
    `subprotocol` String,
    `offered_subprotocols` Array(String),
    `extensions` Array(String),
    `offered_extensions` Array(String),
    `h2_other_streams` Array(String),
    `tls_version` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'version'),
    `tls_cipher_suite` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'cipher_suite'),
    `tls_sni` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'sni'),
    `tls_alpn` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'alpn'),
    `tls_decrypted` UInt8 MATERIALIZED visitParamExtractBool(visitParamExtractRaw(record, 'tls'), 'decrypted')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, run, seq);

CREATE TABLE IF NOT EXISTS wscap.wscap_handshakes (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `client` String,
    `server` String,
    `captured` UInt8,
    `head_cut` UInt8,
    `status` UInt16,
    `method` String,
    `path` String,
    `host` String,
    `origin` String,
    `user_agent` String,
    `server_header` String,
    `version` String,
    `key` String,
    `accept` String,
    `expected_accept` String,
    `accept_valid` UInt8,
    `subprotocol` String,
    `offered_subprotocols` Array(String),
    `extensions` Array(String),
    `offered_extensions` Array(String),
    `h2_other_streams` Array(String),
    `tls_version` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'version'),
    `tls_cipher_suite` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'cipher_suite'),
    `tls_sni` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'sni'),
    `tls_alpn` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'tls'), 'alpn'),
    `tls_decrypted` UInt8 ALIAS visitParamExtractBool(visitParamExtractRaw(record, 'tls'), 'decrypted')
) ENGINE = Distributed(wscap, wscap, wscap_handshakes_local, cityHash64(run, conn));

-- messages: one row per WebSocket message (kind "message"); text and data only with --sink-payload
CREATE TABLE IF NOT EXISTS wscap.wscap_messages_local (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `from` String,
    `opcode` String,
    `frames` UInt32,
    `length` Int64,
    `wire_length` Int64,
    `compressed` UInt8,
    `text` String,
    `data` String,
    `close_code` UInt16,
    `close_reason` String,
    `truncated` UInt8,
    `incomplete` UInt8,
    `undecodable` UInt8,
    `app_protocol` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'app'), 'protocol'),
    `app_type` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'app'), 'type'),
    `app_summary` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'app'), 'summary')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, run, seq);

CREATE TABLE IF NOT EXISTS wscap.wscap_messages (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `from` String,
    `opcode` String,
    `frames` UInt32,
    `length` Int64,
    `wire_length` Int64,
    `compressed` UInt8,
    `text` String,
    `data` String,
    `close_code` UInt16,
    `close_reason` String,
    `truncated` UInt8,
    `incomplete` UInt8,
    `undecodable` UInt8,
    `app_protocol` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'app'), 'protocol'),
    `app_type` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'app'), 'type'),
    `app_summary` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'app'), 'summary')
) ENGINE = Distributed(wscap, wscap, wscap_messages_local, cityHash64(run, conn));

-- frames: one row per frame, with --frames (kind "frame")
CREATE TABLE IF NOT EXISTS wscap.wscap_frames_local (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `from` String,
    `fin` UInt8,
    `rsv` UInt8,
    `opcode` String,
    `masked` UInt8,
    `masking_key` String,
    `length` UInt64,
    `header_length` UInt8,
    `data` String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, run, seq);

CREATE TABLE IF NOT EXISTS wscap.wscap_frames (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `from` String,
    `fin` UInt8,
    `rsv` UInt8,
    `opcode` String,
    `masked` UInt8,
    `masking_key` String,
    `length` UInt64,
    `header_length` UInt8,
    `data` String
) ENGINE = Distributed(wscap, wscap, wscap_frames_local, cityHash64(run, conn));

-- findings: one row per finding (kind "finding")
CREATE TABLE IF NOT EXISTS wscap.wscap_findings_local (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `code` String,
    `severity` String,
    `rfc` String,
    `from` String,
    `detail` String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, run, seq);

CREATE TABLE IF NOT EXISTS wscap.wscap_findings (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `code` String,
    `severity` String,
    `rfc` String,
    `from` String,
    `detail` String
) ENGINE = Distributed(wscap, wscap, wscap_findings_local, cityHash64(run, conn));

-- connections: one row per WebSocket at its end (kind "connection")
CREATE TABLE IF NOT EXISTS wscap.wscap_connections_local (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `client` String,
    `server` String,
    `client_ip` String,
    `client_port` UInt16,
    `server_ip` String,
    `server_port` UInt16,
    `community_id` String,
    `host` String,
    `path` String,
    `captured` UInt8,
    `status` UInt16,
    `accept_valid` UInt8,
    `subprotocol` String,
    `extensions` Array(String),
    `start` String,
    `duration` Float64,
    `end` String,
    `closed_by` String,
    `client_messages` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'messages'),
    `client_bytes` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'bytes'),
    `client_wire_bytes` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'wire_bytes'),
    `client_close_code` UInt16 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'close_code'),
    `server_messages` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'messages'),
    `server_bytes` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'bytes'),
    `server_wire_bytes` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'wire_bytes'),
    `server_close_code` UInt16 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'close_code'),
    `rtt_count` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'rtt'), 'count'),
    `rtt_min_ms` Float64 MATERIALIZED visitParamExtractFloat(visitParamExtractRaw(record, 'rtt'), 'min_ms'),
    `rtt_median_ms` Float64 MATERIALIZED visitParamExtractFloat(visitParamExtractRaw(record, 'rtt'), 'median_ms'),
    `rtt_max_ms` Float64 MATERIALIZED visitParamExtractFloat(visitParamExtractRaw(record, 'rtt'), 'max_ms'),
    `findings_error` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'findings'), 'error'),
    `findings_warning` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'findings'), 'warning'),
    `app_protocol` String MATERIALIZED visitParamExtractString(visitParamExtractRaw(record, 'app'), 'protocol')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, run, seq);

CREATE TABLE IF NOT EXISTS wscap.wscap_connections (
    `run` String,
    `seq` UInt64,
    `conn` UInt32,
    `file` UInt32,
    `ts` String,
    `pkt` UInt64,
    `h2_stream` UInt32,
    `record` String,
    `time` DateTime,
    `ns` UInt32,
    `client` String,
    `server` String,
    `client_ip` String,
    `client_port` UInt16,
    `server_ip` String,
    `server_port` UInt16,
    `community_id` String,
    `host` String,
    `path` String,
    `captured` UInt8,
    `status` UInt16,
    `accept_valid` UInt8,
    `subprotocol` String,
    `extensions` Array(String),
    `start` String,
    `duration` Float64,
    `end` String,
    `closed_by` String,
    `client_messages` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'messages'),
    `client_bytes` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'bytes'),
    `client_wire_bytes` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'wire_bytes'),
    `client_close_code` UInt16 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'client_sent'), 'close_code'),
    `server_messages` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'messages'),
    `server_bytes` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'bytes'),
    `server_wire_bytes` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'wire_bytes'),
    `server_close_code` UInt16 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'server_sent'), 'close_code'),
    `rtt_count` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'rtt'), 'count'),
    `rtt_min_ms` Float64 ALIAS visitParamExtractFloat(visitParamExtractRaw(record, 'rtt'), 'min_ms'),
    `rtt_median_ms` Float64 ALIAS visitParamExtractFloat(visitParamExtractRaw(record, 'rtt'), 'median_ms'),
    `rtt_max_ms` Float64 ALIAS visitParamExtractFloat(visitParamExtractRaw(record, 'rtt'), 'max_ms'),
    `findings_error` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'findings'), 'error'),
    `findings_warning` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'findings'), 'warning'),
    `app_protocol` String ALIAS visitParamExtractString(visitParamExtractRaw(record, 'app'), 'protocol')
) ENGINE = Distributed(wscap, wscap, wscap_connections_local, cityHash64(run, conn));

-- totals: one row per run: the totals record
CREATE TABLE IF NOT EXISTS wscap.wscap_totals_local (
    `run` String,
    `seq` UInt64,
    `record` String,
    `websocket_connections` Int64,
    `rejected_upgrades` Int64,
    `h2_websockets` Int64,
    `h2_other_streams` Int64,
    `h2_undecoded_streams` Int64,
    `tls_decrypted` Int64,
    `tls_no_key` Int64,
    `evicted_connections` Int64,
    `half_open_forgotten` Int64,
    `timestamps_backwards` Int64,
    `packets_read` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'read'),
    `packets_websocket` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'websocket'),
    `packets_other_tcp` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'other_tcp'),
    `packets_not_tcp` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'not_tcp'),
    `packets_undecodable` UInt64 MATERIALIZED visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'undecodable'),
    `tcp_websocket` Int64 MATERIALIZED visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'websocket'),
    `tcp_tls` Int64 MATERIALIZED visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'tls'),
    `tcp_http` Int64 MATERIALIZED visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'http'),
    `tcp_http2` Int64 MATERIALIZED visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'http2'),
    `tcp_other` Int64 MATERIALIZED visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'other')
) ENGINE = ReplacingMergeTree
ORDER BY (run, seq);

CREATE TABLE IF NOT EXISTS wscap.wscap_totals (
    `run` String,
    `seq` UInt64,
    `record` String,
    `websocket_connections` Int64,
    `rejected_upgrades` Int64,
    `h2_websockets` Int64,
    `h2_other_streams` Int64,
    `h2_undecoded_streams` Int64,
    `tls_decrypted` Int64,
    `tls_no_key` Int64,
    `evicted_connections` Int64,
    `half_open_forgotten` Int64,
    `timestamps_backwards` Int64,
    `packets_read` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'read'),
    `packets_websocket` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'websocket'),
    `packets_other_tcp` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'other_tcp'),
    `packets_not_tcp` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'not_tcp'),
    `packets_undecodable` UInt64 ALIAS visitParamExtractUInt(visitParamExtractRaw(record, 'packets'), 'undecodable'),
    `tcp_websocket` Int64 ALIAS visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'websocket'),
    `tcp_tls` Int64 ALIAS visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'tls'),
    `tcp_http` Int64 ALIAS visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'http'),
    `tcp_http2` Int64 ALIAS visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'http2'),
    `tcp_other` Int64 ALIAS visitParamExtractInt(visitParamExtractRaw(record, 'protocols'), 'other')
) ENGINE = Distributed(wscap, wscap, wscap_totals_local, cityHash64(run));
