package api

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Version is the schema version written into every message and KV value.
const Version = 1

// KV buckets. The control account writes the origin buckets in the control
// region; every region holds a sourced copy named RegionBucket(bucket, region)
// that keeps serving reads and watches when the control region is gone.
const (
	BucketSites = "sites" // key: hostname, value: Site JSON
	BucketCerts = "certs" // key: hostname, value: CertRecord JSON
	BucketACME  = "acme"  // key: HTTP-01 token, value: key authorization
	// BucketPurges keeps every purge for PurgeRetention (key: purge id,
	// value: Purge JSON), so an edge that was away applies what it missed.
	BucketPurges = "purges"
)

// Buckets lists every KV bucket the control plane owns and the edges read.
var Buckets = []string{BucketSites, BucketCerts, BucketACME, BucketPurges, BucketBlocklist}

// PurgeRetention is how long purges stay in BucketPurges.
const PurgeRetention = 24 * time.Hour

// Subjects.
const (
	// SubjectHeartbeatPrefix is followed by ".<region>.<node>".
	SubjectHeartbeatPrefix = "edge.hb"
	// SubjectPurge carries Purge requests to every edge; each edge answers on the reply subject.
	SubjectPurge = "edge.purge"
	// SubjectEventsPrefix is followed by ".<region>": sampled WAF blocks and errors.
	SubjectEventsPrefix = "edge.events"
)

// NATS accounts and the names the edge account uses to reach the control
// account's JetStream across the account boundary.
const (
	AccountControl = "CONTROL"
	AccountEdge    = "EDGE"
	AccountSystem  = "SYS"
	// EdgeJSAPIPrefix is where the edge account imports the control account's JetStream API.
	EdgeJSAPIPrefix = "$JS.control.API"
	// EdgeInboxPrefix is the inbox prefix edge connections use; the control
	// account exports it so JetStream can deliver watch updates to edges.
	EdgeInboxPrefix = "_INBOX_edge"
)

var regionRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}$`)
var nodeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateRegion checks a region name: it becomes part of subjects, bucket
// and cluster names, so it is lower-case letters and digits only.
func ValidateRegion(region string) error {
	if !regionRE.MatchString(region) {
		return fmt.Errorf("region %q: want 1-16 lower-case letters or digits, starting with a letter", region)
	}
	return nil
}

// ValidateNode checks a node name, which becomes one subject token.
func ValidateNode(node string) error {
	if !nodeRE.MatchString(node) {
		return fmt.Errorf("node %q: want 1-63 lower-case letters, digits or dashes", node)
	}
	return nil
}

// RegionBucket names the sourced copy of bucket that lives in region.
func RegionBucket(bucket, region string) string { return bucket + "_" + region }

// HeartbeatSubject is where the edge node publishes its heartbeat.
func HeartbeatSubject(region, node string) string {
	return SubjectHeartbeatPrefix + "." + region + "." + node
}

// EventsSubject is where edges of region publish sampled events.
func EventsSubject(region string) string { return SubjectEventsPrefix + "." + region }

// ParseHeartbeatSubject splits edge.hb.<region>.<node>; ok is false unless
// region and node are valid names (see ValidateRegion and ValidateNode).
func ParseHeartbeatSubject(subject string) (region, node string, ok bool) {
	rest, found := strings.CutPrefix(subject, SubjectHeartbeatPrefix+".")
	if !found {
		return "", "", false
	}
	region, node, ok = strings.Cut(rest, ".")
	if !ok || ValidateRegion(region) != nil || ValidateNode(node) != nil {
		return "", "", false
	}
	return region, node, true
}

// EdgeStreamName is the JetStream stream behind a KV bucket.
func EdgeStreamName(bucket string) string { return "KV_" + bucket }

// EdgePublishAllow lists the subjects an edge user of region may publish to:
// the read-only part of the imported JetStream API for its region's bucket
// copies, flow-control replies, and its own heartbeats and events. Anything
// else (a KV put, a stream update) is a permission violation.
func EdgePublishAllow(region string) []string {
	allow := []string{EdgeJSAPIPrefix + ".INFO", "$JS.FC.>", HeartbeatSubject(region, "*"), EventsSubject(region)}
	for _, b := range Buckets {
		stream := EdgeStreamName(RegionBucket(b, region))
		allow = append(allow,
			EdgeJSAPIPrefix+".STREAM.INFO."+stream,
			EdgeJSAPIPrefix+".STREAM.MSG.GET."+stream,
			EdgeJSAPIPrefix+".DIRECT.GET."+stream+".>",
			EdgeJSAPIPrefix+".CONSUMER.CREATE."+stream+".>",
			EdgeJSAPIPrefix+".CONSUMER.DELETE."+stream+".>",
			EdgeJSAPIPrefix+".CONSUMER.INFO."+stream+".>",
		)
	}
	return allow
}

// EdgeInbox is the inbox prefix of the edges of region. Each region's edge
// user may subscribe only below its own, so no edge reads another region's
// replies or watch updates.
func EdgeInbox(region string) string { return EdgeInboxPrefix + "." + region }

// EdgeSubscribeAllow lists the subjects an edge user of region may subscribe
// to: its own inbox, purges, and every region's heartbeats (GeoDNS on each
// edge withdraws regions that fall silent).
func EdgeSubscribeAllow(region string) []string {
	return []string{EdgeInbox(region) + ".>", SubjectPurge, SubjectHeartbeatPrefix + ".>"}
}
