package spec

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// expectedRR parses an expected rdata in zone-file presentation format
// into a record of the query's name and type.
func expectedRR(q *DNSQuery, rdata string) (dns.RR, error) {
	rr, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", dns.Fqdn(q.Name), strings.ToUpper(q.Type), rdata))
	if err != nil {
		return nil, err
	}
	if rr == nil {
		return nil, fmt.Errorf("empty record")
	}
	return rr, nil
}

// rdataString is a record's presentation format without its header.
func rdataString(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

func (r *runner) runDNS(ctx context.Context, c *Check) []Result {
	q := c.DNS
	transports := []string{"udp", "tcp"}
	if q.Transport == "udp" || q.Transport == "tcp" {
		transports = []string{q.Transport}
	}
	qtype := dns.StringToType[strings.ToUpper(q.Type)]
	var out []Result
	for _, tr := range transports {
		start := time.Now()
		answer, err := r.exchange(ctx, q, qtype, tr)
		took := time.Since(start)
		for _, res := range dnsMatchers(c, qtype, answer, err) {
			res.Matcher += " (" + tr + ")"
			res.Duration = took
			out = append(out, res)
		}
	}
	return out
}

func (r *runner) exchange(ctx context.Context, q *DNSQuery, qtype uint16, network string) (*dns.Msg, error) {
	addr, err := r.opts.nameserver(q.Nameserver)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q.Name), qtype)
	m.RecursionDesired = q.Recurse
	m.SetEdns0(1232, false)
	cl := &dns.Client{Net: network, Timeout: r.opts.timeout()}
	resp, _, err := cl.ExchangeContext(ctx, m, addr)
	if err != nil {
		return nil, fmt.Errorf("asking %s over %s: %w", addr, network, err)
	}
	if resp.Truncated {
		return resp, fmt.Errorf("answer from %s over %s was truncated (TC)", addr, network)
	}
	return resp, nil
}

// dnsMatchers check one answer.
func dnsMatchers(c *Check, qtype uint16, resp *dns.Msg, err error) []Result {
	e := c.Expect
	var answers []dns.RR
	if resp != nil {
		for _, rr := range resp.Answer {
			if rr.Header().Rrtype == qtype {
				answers = append(answers, rr)
			}
		}
	}
	var out []Result
	check := func(matcher, expected string, got func() (bool, string)) {
		res := Result{Matcher: matcher, Expected: expected}
		if err != nil {
			res.Actual = err.Error()
		} else {
			res.Pass, res.Actual = got()
		}
		out = append(out, res)
	}
	describe := func() string {
		rcode := dns.RcodeToString[resp.Rcode]
		if len(answers) == 0 {
			return rcode + ", no " + dns.TypeToString[qtype] + " records"
		}
		var rd []string
		for _, a := range answers {
			rd = append(rd, rdataString(a))
		}
		slices.Sort(rd)
		return rcode + ", " + strings.Join(rd, " | ")
	}
	if e.Rcode != "" {
		want := strings.ToUpper(e.Rcode)
		check("rcode", want, func() (bool, string) {
			got := dns.RcodeToString[resp.Rcode]
			return got == want, got
		})
	}
	if len(e.Rdata) > 0 {
		var exp []dns.RR
		for _, s := range e.Rdata {
			rr, _ := expectedRR(c.DNS, s) // parsed in Validate
			exp = append(exp, rr)
		}
		check("rdata", strings.Join(e.Rdata, " | "), func() (bool, string) {
			return sameRRSet(exp, answers), describe()
		})
	}
	if len(e.MX) > 0 {
		var want []string
		for _, m := range e.MX {
			want = append(want, strconv.Itoa(int(m.Preference))+" "+dns.CanonicalName(m.Exchange))
		}
		slices.Sort(want)
		check("mx exchange and preference", strings.Join(want, " | "), func() (bool, string) {
			var got []string
			for _, a := range answers {
				if mx, ok := a.(*dns.MX); ok {
					got = append(got, strconv.Itoa(int(mx.Preference))+" "+dns.CanonicalName(mx.Mx))
				}
			}
			slices.Sort(got)
			if len(got) == 0 {
				return false, describe()
			}
			return slices.Equal(got, want), strings.Join(got, " | ")
		})
	}
	if e.TTL != nil {
		check("ttl", fmt.Sprintf("TTL %d on every %s record", *e.TTL, dns.TypeToString[qtype]), func() (bool, string) {
			if len(answers) == 0 {
				return false, describe()
			}
			var ttls []string
			ok := true
			for _, a := range answers {
				ttls = append(ttls, strconv.Itoa(int(a.Header().Ttl)))
				ok = ok && a.Header().Ttl == *e.TTL
			}
			return ok, "TTL " + strings.Join(ttls, ", ")
		})
	}
	if e.Count != nil {
		check("count", fmt.Sprintf("%d %s records", *e.Count, dns.TypeToString[qtype]), func() (bool, string) {
			return len(answers) == *e.Count, fmt.Sprintf("%d: %s", len(answers), describe())
		})
	}
	return out
}

// sameRRSet reports whether a and b hold the same rdata (names compared
// case-insensitively, TTLs ignored), as sets.
func sameRRSet(a, b []dns.RR) bool {
	// Answers reached through a CNAME carry the target's name: compare
	// the data only.
	norm := func(in []dns.RR) []dns.RR {
		out := make([]dns.RR, len(in))
		for i, rr := range in {
			out[i] = dns.Copy(rr)
			out[i].Header().Name = "."
		}
		return out
	}
	a, b = norm(a), norm(b)
	covers := func(x, y []dns.RR) bool {
		for _, r := range x {
			found := false
			for _, s := range y {
				if dns.IsDuplicate(r, s) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return len(a) > 0 && len(b) > 0 && covers(a, b) && covers(b, a)
}
