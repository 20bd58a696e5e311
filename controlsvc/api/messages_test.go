package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// validCertRecord returns a CertRecord for www.example.com whose key is
// sealed to a fresh edge key, and that key's private half's PEM.
func validCertRecord(t *testing.T) (CertRecord, string) {
	t.Helper()
	edge := newSealKey(t)
	leaf, keyPEM := testCertPEM(t, "www.example.com")
	intermediate, _ := testCertPEM(t, "ca.example.net")
	sealed, err := SealFor(edge.PublicKey(), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return CertRecord{
		V:         Version,
		Hostname:  "www.example.com",
		ChainPEM:  leaf + intermediate,
		KeySealed: sealed,
		Issuer:    "letsencrypt",
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:  time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC),
	}, keyPEM
}

func TestParseCertRecordValid(t *testing.T) {
	rec, _ := validCertRecord(t)
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"v":1`, `"hostname":`, `"chain_pem":`, `"key_sealed":`, `"issuer":`, `"not_before":"2025-01-01T00:00:00Z"`, `"not_after":`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("marshalled CertRecord lacks %s: %s", key, data)
		}
	}
	got, err := ParseCertRecord(data)
	if err != nil {
		t.Fatalf("ParseCertRecord: %v", err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("ParseCertRecord =\n%+v\nwant\n%+v", got, rec)
	}

	// The minimal record: times and issuer are optional.
	minimal := CertRecord{V: Version, Hostname: rec.Hostname, ChainPEM: rec.ChainPEM, KeySealed: rec.KeySealed}
	data, err = json.Marshal(map[string]any{"v": 1, "hostname": minimal.Hostname, "chain_pem": minimal.ChainPEM, "key_sealed": minimal.KeySealed})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseCertRecord(data); err != nil || !reflect.DeepEqual(got, minimal) {
		t.Fatalf("ParseCertRecord(minimal) = %+v, %v", got, err)
	}
}

func TestParseCertRecordOpensWithEdgeKey(t *testing.T) {
	edge := newSealKey(t)
	leaf, keyPEM := testCertPEM(t, "www.example.com")
	sealed, err := SealFor(edge.PublicKey(), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(CertRecord{V: Version, Hostname: "www.example.com", ChainPEM: leaf, KeySealed: sealed})
	rec, err := ParseCertRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Open(edge, rec.KeySealed)
	if err != nil || string(plain) != keyPEM {
		t.Fatalf("Open(KeySealed) = %q, %v; want the key PEM", plain, err)
	}
}

func TestParseCertRecordInvalid(t *testing.T) {
	rec, keyPEM := validCertRecord(t)
	tests := []struct {
		name   string
		mutate func(c *CertRecord)
		fields []string
	}{
		{"v missing", func(c *CertRecord) { c.V = 0 }, []string{"v"}},
		{"v from the future", func(c *CertRecord) { c.V = 2 }, []string{"v"}},
		{"hostname empty", func(c *CertRecord) { c.Hostname = "" }, []string{"hostname"}},
		{"hostname upper-case", func(c *CertRecord) { c.Hostname = "WWW.example.com" }, []string{"hostname"}},
		{"hostname wildcard", func(c *CertRecord) { c.Hostname = "*.example.com" }, []string{"hostname"}},
		{"chain empty", func(c *CertRecord) { c.ChainPEM = "" }, []string{"chain_pem"}},
		{"chain garbage", func(c *CertRecord) { c.ChainPEM = "not PEM" }, []string{"chain_pem"}},
		{"chain is a key", func(c *CertRecord) { c.ChainPEM = keyPEM }, []string{"chain_pem"}},
		{"chain holds a key", func(c *CertRecord) { c.ChainPEM += keyPEM }, []string{"chain_pem"}},
		{"chain bad DER", func(c *CertRecord) {
			c.ChainPEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, []string{"chain_pem"}},
		{"key missing", func(c *CertRecord) { c.KeySealed = "" }, []string{"key_sealed"}},
		{"everything wrong", func(c *CertRecord) { *c = CertRecord{} }, []string{"v", "hostname", "chain_pem", "key_sealed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rec
			tt.mutate(&c)
			data, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCertRecord(data)
			if err == nil {
				t.Fatalf("ParseCertRecord accepted %+v", c)
			}
			if _, ok := err.(FieldErrors); !ok {
				t.Errorf("error is %T, want FieldErrors", err)
			}
			if fields := fieldsOf(t, err); !slices.Equal(fields, tt.fields) {
				t.Errorf("fields = %q, want %q (%v)", fields, tt.fields, err)
			}
			if !reflect.DeepEqual(got, CertRecord{}) {
				t.Errorf("ParseCertRecord returned %+v with its error, want the zero CertRecord", got)
			}
		})
	}
}

func TestParseCertRecordDecodeErrors(t *testing.T) {
	rec, _ := validCertRecord(t)
	good, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	with := func(extra string) string { return strings.TrimSuffix(string(good), "}") + "," + extra + "}" }
	tests := []struct {
		name, doc, field, msg string
	}{
		{"unknown field", with(`"key_pem":"x"`), "key_pem", "unknown field"},
		{"v is a string", strings.Replace(string(good), `"v":1`, `"v":"1"`, 1), "v", "want int, got JSON string"},
		{"chain is a list", with(`"chain_pem":["x"]`), "chain_pem", "got JSON array"},
		{"syntax error", strings.Replace(string(good), `"chain_pem":"`, `"chain_pem":["`, 1), "", "invalid JSON"},
		{"key_sealed is a number", with(`"key_sealed":1`), "key_sealed", "want string, got JSON number"},
		{"not_after is a number", with(`"not_after":1`), "", "not a JSON string"},
		{"not_after is not a time", with(`"not_after":"soon"`), "", "cannot parse"},
		{"trailing data", string(good) + "{}", "", "unexpected data"},
		{"empty", "", "", "empty document"},
		{"array", "[]", "", "got JSON array"},
		{"oversized", string(good) + strings.Repeat(" ", MaxCertBytes), "", "the limit is 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCertRecord([]byte(tt.doc))
			fe, ok := err.(*FieldError)
			if !ok {
				t.Fatalf("error %v is %T, want *FieldError", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Fatalf("error = %q (field %q), want field %q and a message containing %q", fe, fe.Field, tt.field, tt.msg)
			}
		})
	}
}
