module github.com/rampart-edge/rampart/edgeagent

go 1.26

require (
	github.com/nats-io/nats.go v1.47.0
	github.com/rampart-edge/rampart/controlsvc/api v0.0.0
)

require (
	github.com/klauspost/compress v1.18.0 // indirect
	github.com/nats-io/nkeys v0.4.11 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.42.0 // indirect
	golang.org/x/sys v0.36.0 // indirect
)

replace github.com/rampart-edge/rampart/controlsvc/api => ../controlsvc/api
