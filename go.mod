module github.com/wscap/wscap

go 1.26.0

require (
	github.com/google/btree v1.1.3
	github.com/gopacket/gopacket v1.7.7
	github.com/klauspost/compress v1.20.4
	github.com/mattn/go-isatty v0.0.20
	github.com/mattn/go-runewidth v0.0.31
	github.com/spf13/pflag v1.1.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.50.0
)

require github.com/clipperhouse/uax29/v2 v2.2.0 // indirect

require (
	golang.org/x/crypto v0.59.0
	golang.org/x/text v0.44.0 // indirect
)
