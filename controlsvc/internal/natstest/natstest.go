// Package natstest boots an embedded single-node NATS server with JetStream
// for tests, the way nats-server's own tests do: port -1, store in a
// temporary directory, shut down by t.Cleanup.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/buckets"
)

// Region names the test server's only region. A standalone JetStream server
// ignores stream placement, so buckets.Ensure works with any valid name.
const Region = "lab"

// Option adjusts the server options before the server starts.
type Option func(*server.Options)

// WithUser requires the given user and password from every client.
func WithUser(user, password string) Option {
	return func(o *server.Options) {
		o.Users = append(o.Users, &server.User{Username: user, Password: password})
	}
}

// Start boots a JetStream server on 127.0.0.1 with a random port and returns it.
func Start(t testing.TB, opts ...Option) *server.Server {
	t.Helper()
	o := &server.Options{
		ServerName: "test",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	}
	for _, opt := range opts {
		opt(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server not ready")
	}
	return s
}

// Connect opens a client connection to s, closed by t.Cleanup.
func Connect(t testing.TB, s *server.Server, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Layout is the bucket layout matching the test server.
func Layout() buckets.Layout {
	return buckets.Layout{ControlRegion: Region, Regions: []string{Region}, Replicas: 1, Memory: true}
}

// Buckets boots a server, runs buckets.Ensure and returns the connection and
// the writable sites and certs buckets.
func Buckets(t testing.TB) (js jetstream.JetStream, sites, certs jetstream.KeyValue) {
	t.Helper()
	s := Start(t)
	_, js = Connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := buckets.Ensure(ctx, js, Layout()); err != nil {
		t.Fatalf("buckets: %v", err)
	}
	var err error
	if sites, err = js.KeyValue(ctx, "sites"); err != nil {
		t.Fatalf("sites bucket: %v", err)
	}
	if certs, err = js.KeyValue(ctx, "certs"); err != nil {
		t.Fatalf("certs bucket: %v", err)
	}
	return js, sites, certs
}
