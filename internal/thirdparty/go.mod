module github.com/wscap/wscap/internal/thirdparty

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	github.com/gopacket/gopacket v1.7.7
	github.com/gorilla/websocket v1.5.3
)

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
