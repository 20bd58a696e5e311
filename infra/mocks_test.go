package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/bcrypt"
)

// state plays the part of a stack's state across runs: a resource that
// existed before keeps its id and computed outputs (random bytes, passwords,
// addresses), as a provider would on an update.
type state struct {
	mu      sync.Mutex
	outputs map[string]resource.PropertyMap // by stack/type/name
	ids     map[string]string
	next    int
}

func newState() *state {
	return &state{outputs: map[string]resource.PropertyMap{}, ids: map[string]string{}}
}

// recorded is one resource registered by a run.
type recorded struct {
	Type, Name string
	Inputs     resource.PropertyMap
	Deps       []string // URNs
	Parent     string
}

// mocks implements pulumi.MockResourceMonitor for one run of one stack.
type mocks struct {
	st    *state
	stack string
	// env are the outputs a StackReference returns, as JSON values;
	// secretOutputs names those that are secrets.
	env           map[string]any
	secretOutputs map[string]bool

	mu        sync.Mutex
	resources []recorded
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := recorded{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Deps = rpc.GetDependencies()
		r.Parent = rpc.GetParent()
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	if args.TypeToken == "pulumi:pulumi:StackReference" {
		outs := resource.PropertyMap{}
		for k, v := range m.env {
			pv := resource.NewPropertyValue(v)
			if m.secretOutputs[k] {
				pv = resource.MakeSecret(pv)
			}
			outs[resource.PropertyKey(k)] = pv
		}
		return args.ID, resource.PropertyMap{"name": resource.NewProperty(args.ID), "outputs": resource.NewObjectProperty(outs)}, nil
	}

	key := m.stack + "/" + args.TypeToken + "/" + args.Name
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	computed, ok := m.st.outputs[key]
	if !ok {
		computed = m.st.compute(args)
		m.st.outputs[key] = computed
	}
	id := m.st.ids[key]
	if id == "" {
		m.st.next++
		id = fmt.Sprint(1000 + m.st.next)
		if !strings.HasPrefix(args.TypeToken, "digitalocean:index/droplet:") {
			id = "id-" + id
		}
		m.st.ids[key] = id
	}
	outs := args.Inputs.Copy()
	for k, v := range computed {
		outs[k] = v
	}
	return id, outs, nil
}

// compute returns what a provider computes on create.
func (s *state) compute(args pulumi.MockResourceArgs) resource.PropertyMap {
	n := s.next + 1
	pem := func(kind string) string {
		return "-----BEGIN " + kind + "-----\n" + base64.StdEncoding.EncodeToString([]byte(args.Name+fmt.Sprint(n))) + "\n-----END " + kind + "-----\n"
	}
	switch args.TypeToken {
	case "random:index/randomBytes:RandomBytes":
		b := make([]byte, 32)
		rand.Read(b)
		return resource.NewPropertyMapFromMap(map[string]any{
			"base64": base64.StdEncoding.EncodeToString(b), "hex": hex.EncodeToString(b)})
	case "random:index/randomPassword:RandomPassword":
		b := make([]byte, 16)
		rand.Read(b)
		pw := hex.EncodeToString(b)
		h, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		return resource.NewPropertyMapFromMap(map[string]any{"result": pw, "bcryptHash": string(h)})
	case "tls:index/privateKey:PrivateKey":
		return resource.NewPropertyMapFromMap(map[string]any{"privateKeyPem": pem("PRIVATE KEY"), "publicKeyPem": pem("PUBLIC KEY")})
	case "tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert":
		return resource.NewPropertyMapFromMap(map[string]any{"certPem": pem("CERTIFICATE")})
	case "tls:index/certRequest:CertRequest":
		return resource.NewPropertyMapFromMap(map[string]any{"certRequestPem": pem("CERTIFICATE REQUEST")})
	case "digitalocean:index/reservedIp:ReservedIp":
		return resource.NewPropertyMapFromMap(map[string]any{"ipAddress": fmt.Sprintf("203.0.113.%d", n%250+1)})
	case "digitalocean:index/droplet:Droplet":
		return resource.NewPropertyMapFromMap(map[string]any{
			"ipv4Address": fmt.Sprintf("198.51.100.%d", n%250+1), "ipv4AddressPrivate": fmt.Sprintf("10.100.0.%d", n%250+1)})
	}
	return resource.PropertyMap{}
}

// plain unwraps secrets and returns the Go value of a property.
func plain(v resource.PropertyValue) any {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	switch {
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		var a []any
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	}
	return v.V
}

func (r recorded) str(key string) string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok {
		return ""
	}
	s, _ := plain(v).(string)
	return s
}

func (r recorded) get(key string) any {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok {
		return nil
	}
	return plain(v)
}

func (r recorded) json() string {
	b, _ := json.Marshal(plain(resource.NewObjectProperty(r.Inputs)))
	return string(b)
}

func (m *mocks) byType(typ string) []recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []recorded
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (m *mocks) named(typ, name string) (recorded, bool) {
	for _, r := range m.byType(typ) {
		if r.Name == name {
			return r, true
		}
	}
	return recorded{}, false
}
