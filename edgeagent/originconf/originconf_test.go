package originconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
)

func TestRender(t *testing.T) {
	p := Params{EdgeIPs: []string{"198.51.100.1", "2001:db8::/48"}, PullCAPath: "/etc/ssl/rampart-pull-ca.pem"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	ng := Nginx(p)
	for _, want := range []string{"allow 198.51.100.1;\nallow 2001:db8::/48;\ndeny all;", "set_real_ip_from 2001:db8::/48;",
		"real_ip_header X-Real-IP;", "ssl_client_certificate /etc/ssl/rampart-pull-ca.pem;", "ssl_verify_client on;"} {
		if !strings.Contains(ng, want) {
			t.Errorf("nginx: missing %q in\n%s", want, ng)
		}
	}
	ap := Apache(p)
	for _, want := range []string{"RemoteIPHeader X-Real-IP", "RemoteIPTrustedProxy 198.51.100.1", "SSLVerifyClient require",
		"SSLCACertificateFile /etc/ssl/rampart-pull-ca.pem", `Require expr "%{CONN_REMOTE_ADDR} -ipmatch '2001:db8::/48'"`} {
		if !strings.Contains(ap, want) {
			t.Errorf("apache: missing %q in\n%s", want, ap)
		}
	}
}

func TestValidateNamesTheParameter(t *testing.T) {
	for want, p := range map[string]Params{
		"edge-ips:":    {PullCAPath: "/x"},
		"edge-ips[1]:": {EdgeIPs: []string{"192.0.2.1", "nope"}, PullCAPath: "/x"},
		"pull-ca:":     {EdgeIPs: []string{"192.0.2.1"}, PullCAPath: "/x; evil"},
	} {
		if err := p.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

// TestNginxAcceptsTheSnippet runs `nginx -t` on a server block that
// includes the snippet, when nginx is installed.
func TestNginxAcceptsTheSnippet(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed")
	}
	dir := t.TempDir()
	ca, err := testcert.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := ca.Leaf("origin.test")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caPath := write("pull-ca.pem", ca.CertPEM)
	snippet := write("snippet.conf", []byte(Nginx(Params{EdgeIPs: []string{"198.51.100.1", "2001:db8::/48"}, PullCAPath: caPath})))
	conf := write("nginx.conf", []byte(`error_log `+dir+`/error.log;
pid `+dir+`/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path `+dir+`; proxy_temp_path `+dir+`; fastcgi_temp_path `+dir+`; uwsgi_temp_path `+dir+`; scgi_temp_path `+dir+`;
  server {
    listen 127.0.0.1:1 ssl;
    ssl_certificate `+write("cert.pem", chain)+`;
    ssl_certificate_key `+write("key.pem", key)+`;
    include `+snippet+`;
  }
}
`))
	out, err := exec.Command(bin, "-t", "-c", conf, "-p", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}
