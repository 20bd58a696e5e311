module github.com/rampart-edge/rampart/scripts

go 1.26.0

require (
	github.com/maxmind/mmdbwriter v1.2.0
	github.com/miekg/dns v1.1.73
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/nats-io/nats.go v1.53.1
	github.com/oschwald/maxminddb-golang/v2 v2.1.1
	github.com/rampart-edge/rampart/cloudinit v0.0.0
	github.com/rampart-edge/rampart/controlsvc v0.0.0
	github.com/rampart-edge/rampart/controlsvc/api v0.0.0
	github.com/rampart-edge/rampart/edgeagent v0.0.0
	golang.org/x/crypto v0.58.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	go4.org/netipx v0.0.0-20231129151722-fdeea329fbba // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace (
	github.com/rampart-edge/rampart/cloudinit => ../cloudinit
	github.com/rampart-edge/rampart/controlsvc => ../controlsvc
	github.com/rampart-edge/rampart/controlsvc/api => ../controlsvc/api
	github.com/rampart-edge/rampart/edgeagent => ../edgeagent
)
