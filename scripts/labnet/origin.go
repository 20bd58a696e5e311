package labnet

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"
)

// DemoOrigin is a small origin that answers every request with what it
// received, so the lab shows what the edge sends upstream.
type DemoOrigin struct {
	Name string
	srv  *http.Server
	addr string
}

// StartDemoOrigin listens on addr (host:port, port 0 for a free one).
func StartDemoOrigin(name, addr string) (*DemoOrigin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	o := &DemoOrigin{Name: name, addr: ln.Addr().String()}
	o.srv = &http.Server{Handler: o, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return o, nil
}

// URL is the origin's base URL.
func (o *DemoOrigin) URL() string { return "http://" + o.addr }

// Addr is the origin's host:port.
func (o *DemoOrigin) Addr() string { return o.addr }

// Echo is the JSON the demo origin answers with.
type Echo struct {
	Origin         string `json:"origin"`
	Method         string `json:"method"`
	Host           string `json:"host"`
	URI            string `json:"uri"`
	XForwardedFor  string `json:"x_forwarded_for"`
	XForwardedProt string `json:"x_forwarded_proto"`
	XRequestID     string `json:"x_request_id"`
}

func (o *DemoOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(Echo{
		Origin: o.Name, Method: r.Method, Host: r.Host, URI: r.RequestURI,
		XForwardedFor: r.Header.Get("X-Forwarded-For"), XForwardedProt: r.Header.Get("X-Forwarded-Proto"),
		XRequestID: r.Header.Get("X-Request-Id"),
	})
}

// Close stops the origin.
func (o *DemoOrigin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return o.srv.Shutdown(ctx)
}
