package zoneimport

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteRecords writes the records as a master file, one record a line.
func (r *Result) WriteRecords(w io.Writer) error {
	if _, err := fmt.Fprintln(w, "; records for the DNS provider, written by edgectl import"); err != nil {
		return err
	}
	for _, rr := range r.Records {
		if _, err := fmt.Fprintln(w, rr.String()); err != nil {
			return err
		}
	}
	return nil
}

// WriteSites writes the sites as a JSON list of api.Site (each one can be
// POSTed to /api/v1/sites).
func (r *Result) WriteSites(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(r.Sites) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	return enc.Encode(r.Sites)
}

// WriteSpec writes the spec asserting every imported record.
func (r *Result) WriteSpec(w io.Writer) error {
	if _, err := fmt.Fprintln(w, "# Written by edgectl import: red until the sites and records have moved."); err != nil {
		return err
	}
	return r.Spec.WriteYAML(w)
}
