package fleet

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/rampart-edge/rampart/cloudinit/natsconf"
	"github.com/rampart-edge/rampart/cloudinit/push"
	"github.com/rampart-edge/rampart/cloudinit/systemd"
)

// MeshScript installs node's wg0.conf and applies it: the first time it
// brings the interface up, afterwards wg syncconf adds and removes peers
// without dropping the tunnels that stay.
func (f Fleet) MeshScript(node string) ([]byte, error) {
	configs, err := f.WireGuard()
	if err != nil {
		return nil, err
	}
	c, ok := configs[node]
	if !ok {
		return nil, fmt.Errorf("mesh: no node %q", node)
	}
	conf, err := c.Render()
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	return push.Script{
		Name:  "wireguard mesh for " + node,
		Files: []push.File{{Path: WireGuardConfFile, Content: conf, Mode: "0600"}},
		Always: []string{
			"systemctl enable wg-quick@wg0 >/dev/null 2>&1",
			`if ip link show wg0 >/dev/null 2>&1; then wg syncconf wg0 <(wg-quick strip wg0); else systemctl start wg-quick@wg0; fi`,
		},
	}.Render()
}

// NATSScript installs node's nats.conf, its TLS files and the unit. A
// changed config is applied by a reload; a server that is not running yet is
// left for the rollout to start once its binary is there.
func (f Fleet) NATSScript(node string) ([]byte, error) {
	n, _, ok := f.Node(node)
	if !ok {
		return nil, fmt.Errorf("nats: no node %q", node)
	}
	configs, err := f.NATSConfigs()
	if err != nil {
		return nil, err
	}
	c := configs[node]
	conf, err := c.Render()
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	unit, err := NATSUnit().Render()
	if err != nil {
		return nil, err
	}
	return push.Script{
		Name: "nats for " + node,
		Files: []push.File{
			{Path: NATSCAFile, Content: []byte(f.NATS.CAPEM), Mode: "0644"},
			{Path: NATSCertFile, Content: []byte(n.TLSCertPEM), Mode: "0644"},
			{Path: NATSKeyFile, Content: []byte(n.TLSKeyPEM), Mode: "0640", Group: NATSUser},
			{Path: NATSConfFile, Content: conf, Mode: "0640", Group: NATSUser},
			{Path: UnitDir + "/" + NATSService + ".service", Content: unit, Mode: "0644"},
		},
		OnChange: []string{
			"systemctl daemon-reload",
			"systemctl enable " + NATSService + " >/dev/null 2>&1",
			"if systemctl is-active -q " + NATSService + "; then systemctl reload " + NATSService + "; fi",
		},
	}.Render()
}

// EdgeConfig is the edge agent's JSON config file (the fields of
// edgeagent.Config that a deployment sets). The origin-pull certificate is
// installed at OriginPullCert and OriginPullKey for the origin mTLS feature.
type EdgeConfig struct {
	Region    string    `json:"region"`
	Node      string    `json:"node"`
	HTTPAddr  string    `json:"http_addr"`
	HTTPSAddr string    `json:"https_addr"`
	AdminAddr string    `json:"admin_addr"`
	NATS      EdgeNATS  `json:"nats"`
	SealKey   string    `json:"seal_key"`
	DataDir   string    `json:"data_dir"`
	AccessLog string    `json:"access_log"`
	Cache     EdgeCache `json:"cache"`
}

// EdgeCache is the edge's HTTP cache: a disk tier under the data directory
// (bounded by the edge's default, 4 GiB), so cached objects survive a
// restart or a rollout.
type EdgeCache struct {
	DiskDir string `json:"disk_dir"`
}

// EdgeNATS is how the edge reaches its region's NATS cluster.
type EdgeNATS struct {
	URLs     []string `json:"urls"`
	User     string   `json:"user"`
	Password string   `json:"password"`
}

// ControlConfig is the control service's JSON config file.
type ControlConfig struct {
	NATSURLs          []string `json:"nats_urls"`
	NATSUser          string   `json:"nats_user"`
	NATSPassword      string   `json:"nats_password"`
	DataDir           string   `json:"data_dir"`
	AdminAddr         string   `json:"admin_addr"`
	AdminToken        string   `json:"admin_token"`
	EdgeSealPublicKey string   `json:"edge_seal_public_key"`
	ControlRegion     string   `json:"control_region"`
	Regions           []string `json:"regions"`
	Replicas          int      `json:"replicas"`
}

// ServicesScript installs the edge agent's (and in the control region the
// control service's) unit and config. A changed config restarts a running
// service; the rollout starts it the first time.
func (f Fleet) ServicesScript(node string) ([]byte, error) {
	n, r, ok := f.Node(node)
	if !ok {
		return nil, fmt.Errorf("services: no node %q", node)
	}
	edge := EdgeConfig{
		Region: r.Name, Node: n.Name,
		HTTPAddr: ":80", HTTPSAddr: ":443", AdminAddr: "127.0.0.1:" + port(EdgeAdminPort),
		NATS:    EdgeNATS{URLs: f.ClientURLs(r), User: natsconf.EdgeUser(r.Name), Password: f.NATS.Credentials.EdgePasswords[r.Name]},
		SealKey: f.EdgeSealKey, DataDir: "/var/lib/rampart/edge", AccessLog: "-",
		Cache: EdgeCache{DiskDir: "/var/lib/rampart/edge/cache"},
	}
	files, err := f.serviceFiles(EdgeUnit(), EdgeConfigFile, edge)
	if err != nil {
		return nil, err
	}
	files = append(files,
		push.File{Path: OriginPullCert, Content: []byte(f.OriginPullCertPEM), Mode: "0644"},
		push.File{Path: OriginPullKey, Content: []byte(f.OriginPullKeyPEM), Mode: "0640", Group: RampartUser})
	restart := []string{"systemctl daemon-reload", "systemctl enable " + EdgeService + " >/dev/null 2>&1",
		"systemctl try-restart " + EdgeService}
	if r.Name == f.ControlRegion {
		var regions []string
		for _, reg := range f.Regions {
			regions = append(regions, reg.Name)
		}
		replicas := min(len(r.Nodes), 3)
		control := ControlConfig{
			NATSURLs: f.ClientURLs(r), NATSUser: natsconf.ControlUser, NATSPassword: f.NATS.Credentials.ControlPassword,
			DataDir: "/var/lib/rampart/control", AdminAddr: n.MeshAddress.String() + ":" + port(ControlPort),
			AdminToken: f.AdminToken, EdgeSealPublicKey: f.EdgeSealPublicKey,
			ControlRegion: f.ControlRegion, Regions: regions, Replicas: replicas,
		}
		more, err := f.serviceFiles(ControlUnit(), ControlConfigFile, control)
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
		restart = append(restart, "systemctl enable "+ControlService+" >/dev/null 2>&1", "systemctl try-restart "+ControlService)
	}
	return push.Script{Name: "services for " + node, Files: files, OnChange: restart}.Render()
}

func (f Fleet) serviceFiles(u systemd.Unit, configPath string, config any) ([]push.File, error) {
	unit, err := u.Render()
	if err != nil {
		return nil, err
	}
	conf, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return nil, err
	}
	return []push.File{
		{Path: UnitDir + "/" + u.Name, Content: unit, Mode: "0644"},
		{Path: configPath, Content: append(conf, '\n'), Mode: "0640", Group: RampartUser},
	}, nil
}

// Binaries a rollout installs, and the service each one runs.
var Binaries = []string{NATSService, EdgeService, ControlService}

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// UploadPath is where a rollout copies a binary before installing it; the
// hash in the name makes a half-finished upload harmless.
func UploadPath(binary, sha256hex string) string {
	return UploadDir + "/" + binary + "-" + sha256hex
}

// Health is the shell test a rollout waits on after restarting binary. An
// edge is healthy once it serves its sites; on its first install, before the
// network has synced anything, answering on the admin port is enough. NATS
// is checked for JetStream being enabled only: a cluster's first server has
// no quorum until its peers start, and they start after it.
func Health(binary string) string {
	switch binary {
	case EdgeService:
		url := "http://127.0.0.1:" + port(EdgeAdminPort) + "/healthz"
		return `{ if [ "$first" = 1 ]; then curl -sS -o /dev/null -m 2 ` + url + `; else curl -fsS -o /dev/null -m 2 ` + url + `; fi; }`
	case NATSService:
		return `curl -fsS -o /dev/null -m 2 "http://$(ip -4 -o addr show wg0 | awk '{print $4}' | cut -d/ -f1):` + port(NATSHTTPPort) + `/healthz?js-enabled-only=true"`
	}
	return "systemctl is-active -q " + binary
}

// RolloutScript installs an uploaded binary whose SHA-256 is sha256hex,
// restarts its service and waits up to 60 seconds for it to be healthy; a
// failure stops the rollout of the region at this node.
func RolloutScript(binary, sha256hex string) ([]byte, error) {
	if !slices.Contains(Binaries, binary) {
		return nil, fmt.Errorf("rollout: binary %q is not one of %v", binary, Binaries)
	}
	if !hashRE.MatchString(sha256hex) {
		return nil, fmt.Errorf("rollout: sha256 %q is not 64 hex digits", sha256hex)
	}
	up := UploadPath(binary, sha256hex)
	return push.Script{
		Name: "rollout of " + binary + " " + sha256hex[:12],
		Always: []string{
			`echo "` + sha256hex + `  ` + up + `" | sha256sum -c --quiet`,
			"first=0; [ -e " + BinDir + "/" + binary + " ] || first=1",
			"install -m 0755 " + up + " " + BinDir + "/" + binary,
			"systemctl restart " + binary,
			"for i in $(seq 60); do if " + Health(binary) + "; then break; fi; if [ \"$i\" = 60 ]; then echo '" + binary + " not healthy after 60s' >&2; journalctl -u " + binary + " -n 50 --no-pager >&2; exit 1; fi; sleep 1; done",
			"rm -f " + up,
		},
	}.Render()
}
