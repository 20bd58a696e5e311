package spec

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// WriteSummary writes one line per result (failures with expected and
// actual) and a closing count.
func (r *Report) WriteSummary(w io.Writer, verbose bool) {
	for _, res := range r.Results {
		if res.Pass {
			if verbose {
				fmt.Fprintf(w, "PASS  %s › %s › %s: %s\n", res.File, res.Check, res.Matcher, res.Actual)
			}
			continue
		}
		fmt.Fprintf(w, "FAIL  %s › %s › %s\n      expected: %s\n      actual:   %s\n", res.File, res.Check, res.Matcher, res.Expected, res.Actual)
	}
	failed := r.Failed()
	fmt.Fprintf(w, "%d matchers, %d passed, %d failed (%.1fs)\n", len(r.Results), len(r.Results)-failed, failed, r.Elapsed.Seconds())
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a testsuite per spec file, a
// testcase per matcher ("check › matcher"), failures with expected and
// actual.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "edge spec", Tests: len(r.Results), Failures: r.Failed(), Time: secs(r.Elapsed.Seconds())}
	idx := map[string]int{}
	for _, res := range r.Results {
		i, ok := idx[res.File]
		if !ok {
			i = len(out.Suites)
			idx[res.File] = i
			out.Suites = append(out.Suites, junitSuite{Name: res.File})
		}
		s := &out.Suites[i]
		tc := junitCase{Classname: res.File, Name: res.Check + " › " + res.Matcher, Time: secs(res.Duration.Seconds())}
		if res.Pass {
			tc.SystemOut = "expected: " + res.Expected + "\nactual: " + res.Actual
		} else {
			s.Failures++
			tc.Failure = &junitFailure{Type: "mismatch",
				Message: "expected " + oneLine(res.Expected) + ", actual " + oneLine(res.Actual),
				Text:    "expected: " + res.Expected + "\nactual:   " + res.Actual}
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	for i := range out.Suites {
		var t float64
		for _, c := range out.Suites[i].Cases {
			var f float64
			fmt.Sscanf(c.Time, "%g", &f)
			t += f
		}
		out.Suites[i].Time = secs(t)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
