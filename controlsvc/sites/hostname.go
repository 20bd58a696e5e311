package sites

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// NormalizeHostname turns what a person typed into the form sites are keyed
// by: surrounding space trimmed, lower-case, and internationalised names in
// their ASCII (xn--) form, so "Bücher.Example" becomes "xn--bcher-kva.example".
// On error it still returns the trimmed, lower-cased name, for messages.
func NormalizeHostname(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return "", fmt.Errorf("required")
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return name, fmt.Errorf("%q is not a valid internationalised hostname: %w", name, err)
	}
	return ascii, nil
}
