package api

import (
	"slices"
	"strings"
	"testing"
)

func TestRegionBucket(t *testing.T) {
	tests := []struct{ bucket, region, want, stream string }{
		{BucketSites, "eu", "sites_eu", "KV_sites_eu"},
		{BucketCerts, "us1", "certs_us1", "KV_certs_us1"},
		{BucketACME, "ap", "acme_ap", "KV_acme_ap"},
		{BucketBlocklist, "eu", "blocklist_eu", "KV_blocklist_eu"},
	}
	for _, tt := range tests {
		got := RegionBucket(tt.bucket, tt.region)
		if got != tt.want {
			t.Errorf("RegionBucket(%q, %q) = %q, want %q", tt.bucket, tt.region, got, tt.want)
		}
		if s := EdgeStreamName(got); s != tt.stream {
			t.Errorf("EdgeStreamName(%q) = %q, want %q", got, s, tt.stream)
		}
	}
	if want := []string{BucketSites, BucketCerts, BucketACME, BucketPurges, BucketBlocklist}; !slices.Equal(Buckets, want) {
		t.Errorf("Buckets = %q, want %q", Buckets, want)
	}
}

func TestEventsSubject(t *testing.T) {
	if got := EventsSubject("eu"); got != "edge.events.eu" {
		t.Errorf("EventsSubject = %q", got)
	}
}

func TestHeartbeatSubjectRoundTrip(t *testing.T) {
	tests := []struct{ region, node, subject string }{
		{"eu", "edge-1", "edge.hb.eu.edge-1"},
		{"us1", "0", "edge.hb.us1.0"},
		{"a", "n", "edge.hb.a.n"},
		{"abcdefghijklmnop", strings.Repeat("n", 63), "edge.hb.abcdefghijklmnop." + strings.Repeat("n", 63)},
	}
	for _, tt := range tests {
		subject := HeartbeatSubject(tt.region, tt.node)
		if subject != tt.subject {
			t.Errorf("HeartbeatSubject(%q, %q) = %q, want %q", tt.region, tt.node, subject, tt.subject)
		}
		region, node, ok := ParseHeartbeatSubject(subject)
		if !ok || region != tt.region || node != tt.node {
			t.Errorf("ParseHeartbeatSubject(%q) = %q, %q, %v; want %q, %q, true", subject, region, node, ok, tt.region, tt.node)
		}
	}
}

func TestParseHeartbeatSubjectRejects(t *testing.T) {
	for _, subject := range []string{
		"",
		"edge.hb",
		"edge.hb.",
		"edge.hb.eu",
		"edge.hb.eu.",
		"edge.hb..n1",
		"edge.hb.eu.n1.x", // a node containing a dot
		"edge.hb.eu.n1.",
		"edge.hb.eu..n1",
		"edge.hbx.eu.n1",
		"edge.hb-eu.n1",
		"xedge.hb.eu.n1",
		"edge.events.eu",
		"edge.purge",
		"edge.hb.EU.n1",   // not a region name
		"edge.hb.1eu.n1",  // not a region name
		"edge.hb.eu.N1",   // not a node name
		"edge.hb.eu.-n1",  // not a node name
		"edge.hb.eu.n_1",  // not a node name
		"edge.hb.eu.*",    // a wildcard is not a node
		"edge.hb.eu.>",    // nor is a tail wildcard
		"edge.hb.*.n1",    // or a region
		"edge.hb.eu.n 1",  // spaces split NATS subjects
		"edge.hb.eu.n1\n", // nor a trailing newline
	} {
		if region, node, ok := ParseHeartbeatSubject(subject); ok || region != "" || node != "" {
			t.Errorf("ParseHeartbeatSubject(%q) = %q, %q, %v; want it rejected", subject, region, node, ok)
		}
	}
}

func TestValidateRegion(t *testing.T) {
	for _, r := range []string{"eu", "us1", "a", "ap2south", "abcdefghijklmnop"} {
		if err := ValidateRegion(r); err != nil {
			t.Errorf("ValidateRegion(%q) = %v, want nil", r, err)
		}
	}
	for _, r := range []string{
		"", "EU", "Eu", "1eu", "us-east", "us_east", "eu.west", "eu ", " eu", "eu\n",
		"abcdefghijklmnopq", "*", ">", "é", "$sys",
	} {
		if err := ValidateRegion(r); err == nil {
			t.Errorf("ValidateRegion(%q) = nil, want an error", r)
		} else if !strings.Contains(err.Error(), "region") {
			t.Errorf("ValidateRegion(%q) = %q, want it to name the region", r, err)
		}
	}
}

func TestValidateNode(t *testing.T) {
	for _, n := range []string{"n1", "1", "edge-1", "0-a", "eu-edge-01", strings.Repeat("a", 63)} {
		if err := ValidateNode(n); err != nil {
			t.Errorf("ValidateNode(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range []string{
		"", "-n1", "N1", "n_1", "n.1", "n 1", "n1\n", strings.Repeat("a", 64), "*", ">", "n*", "édge",
	} {
		if err := ValidateNode(n); err == nil {
			t.Errorf("ValidateNode(%q) = nil, want an error", n)
		} else if !strings.Contains(err.Error(), "node") {
			t.Errorf("ValidateNode(%q) = %q, want it to name the node", n, err)
		}
	}
}

// subjectMatches reports whether a NATS permission pattern matches subject:
// "*" matches one token, a final ">" one or more.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return i == len(p)-1 && len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.b.c", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{">", "a", true},
		{"*.b", "a.b", true},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v", tt.pattern, tt.subject, got)
		}
	}
}

func TestEdgePublishAllow(t *testing.T) {
	allow := EdgePublishAllow("eu")
	jsAPI := EdgeJSAPIPrefix + "."

	// What an edge of eu needs: read its region's bucket copies, watch them, beat and report.
	var required []string
	required = append(required, jsAPI+"INFO", "edge.hb.eu.*", "edge.events.eu")
	for _, stream := range []string{"KV_sites_eu", "KV_certs_eu", "KV_acme_eu", "KV_blocklist_eu"} {
		required = append(required,
			jsAPI+"STREAM.INFO."+stream,
			jsAPI+"STREAM.MSG.GET."+stream,
			jsAPI+"DIRECT.GET."+stream+".>",
			jsAPI+"CONSUMER.CREATE."+stream+".>",
			jsAPI+"CONSUMER.DELETE."+stream+".>",
			jsAPI+"CONSUMER.INFO."+stream+".>",
		)
	}
	for _, want := range required {
		if !slices.Contains(allow, want) {
			t.Errorf("EdgePublishAllow(eu) lacks %q", want)
		}
	}
	// Concrete subjects those entries must let through.
	allowed := []string{
		jsAPI + "DIRECT.GET.KV_sites_eu.$KV.sites_eu.www.example.com",
		jsAPI + "CONSUMER.CREATE.KV_certs_eu.watch1.$KV.certs_eu.>",
		"edge.hb.eu.edge-1",
	}
	for _, subject := range allowed {
		if !anyMatches(allow, subject) {
			t.Errorf("EdgePublishAllow(eu) does not allow %q", subject)
		}
	}

	// Nothing may write: no KV puts or deletes, no stream changes, no other
	// region's subjects, no purges, no system subjects.
	var forbidden []string
	for _, b := range Buckets {
		for _, name := range []string{b, RegionBucket(b, "eu"), RegionBucket(b, "us")} {
			stream := EdgeStreamName(name)
			forbidden = append(forbidden,
				"$KV."+name+".www.example.com",
				"$KV."+name+".>",
				jsAPI+"STREAM.CREATE."+stream,
				jsAPI+"STREAM.UPDATE."+stream,
				jsAPI+"STREAM.DELETE."+stream,
				jsAPI+"STREAM.PURGE."+stream,
				jsAPI+"STREAM.MSG.DELETE."+stream,
				jsAPI+"STREAM.RESTORE."+stream,
				jsAPI+"STREAM.LEADER.STEPDOWN."+stream,
				jsAPI+"STREAM.PEER.REMOVE."+stream,
				"$JS.API.STREAM.CREATE."+stream,
				"$JS.API.STREAM.UPDATE."+stream,
				"$JS.API.STREAM.DELETE."+stream,
				"$JS.API.STREAM.INFO."+stream,
			)
		}
	}
	for _, b := range Buckets {
		stream := EdgeStreamName(RegionBucket(b, "us"))
		forbidden = append(forbidden,
			jsAPI+"STREAM.INFO."+stream,
			jsAPI+"DIRECT.GET."+stream+".$KV."+RegionBucket(b, "us")+".k",
			jsAPI+"CONSUMER.CREATE."+stream+".c.f",
			jsAPI+"STREAM.INFO."+EdgeStreamName(b), // the writable origin bucket
		)
	}
	forbidden = append(forbidden,
		jsAPI+"STREAM.CREATE.KV_new",
		jsAPI+"STREAM.NAMES",
		jsAPI+"ACCOUNT.PURGE.EDGE",
		jsAPI+"META.LEADER.STEPDOWN",
		"$JS.API.INFO",
		"edge.hb.us.edge-1",
		"edge.events.us",
		SubjectPurge,
		"$SYS.REQ.SERVER.PING",
		"_INBOX_edge.x",
	)
	for _, subject := range forbidden {
		for _, p := range allow {
			if subjectMatches(p, subject) {
				t.Errorf("EdgePublishAllow(eu) entry %q allows publishing to %q", p, subject)
			}
		}
	}
	for _, p := range allow {
		first, _, _ := strings.Cut(p, ".")
		if first == "*" || first == ">" || first == "$KV" {
			t.Errorf("EdgePublishAllow(eu) entry %q could allow $KV. publishes", p)
		}
		for _, verb := range []string{".STREAM.CREATE.", ".STREAM.UPDATE.", ".STREAM.DELETE.", ".STREAM.PURGE.", ".STREAM.MSG.DELETE."} {
			if strings.Contains(p, verb) {
				t.Errorf("EdgePublishAllow(eu) entry %q contains %s", p, verb)
			}
		}
	}
}

func anyMatches(patterns []string, subject string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return subjectMatches(p, subject) })
}

func TestEdgeSubscribeAllow(t *testing.T) {
	sub := EdgeSubscribeAllow("ams3")
	for _, subject := range []string{EdgeInbox("ams3") + ".abc.1", SubjectPurge, "edge.hb.eu.n1", HeartbeatSubject("syd1", "syd1-edge1")} {
		if !anyMatches(sub, subject) {
			t.Errorf("EdgeSubscribeAllow does not allow %q", subject)
		}
	}
	for _, subject := range []string{"$KV.sites.x", "edge.hb", "edge.events.eu", "_INBOX.abc", "$JS.control.API.INFO", EdgeInbox("syd1") + ".abc.1"} {
		if anyMatches(sub, subject) {
			t.Errorf("EdgeSubscribeAllow allows %q", subject)
		}
	}
}
