// Package api is the wire contract between the control plane and the edges:
// the site model and its validation, the NATS KV bucket names and subjects,
// and the messages exchanged over them. It depends on the standard library
// only, so that the edge agent and the infra program can share it without
// inheriting the control plane's dependencies.
//
// Every message carries a schema version in its "v" field; a reader rejects a
// version it does not know rather than guessing.
package api
