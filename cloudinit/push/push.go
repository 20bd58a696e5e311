// Package push renders the shell scripts that install rendered files on a
// running node over SSH: each file is written atomically with its owner and
// mode, and the commands that apply a change (a reload, a restart) run only
// when a file actually changed. A remote command feeds the script to
// "bash -s" on its standard input, so file contents never appear on a
// command line or in a process list.
package push

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// File is one file to install.
type File struct {
	Path    string
	Content []byte
	// Mode is an octal string such as "0640".
	Mode string
	// Owner and Group default to root.
	Owner, Group string
}

// Script installs Files, then runs OnChange if any of them changed and Always
// in every case. Each command is one shell line.
type Script struct {
	// Name says what the script installs; it is printed and commented.
	Name     string
	Files    []File
	OnChange []string
	Always   []string
}

var (
	modeRE = regexp.MustCompile(`^0[0-7]{3}$`)
	nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	pathRE = regexp.MustCompile(`^(/[A-Za-z0-9._@-]+)+$`)
)

// Validate checks s, naming the first bad field.
func (s Script) Validate() error {
	if s.Name == "" || strings.ContainsAny(s.Name, "\n'\"`$\\") {
		return fmt.Errorf("name: %q is empty or has a quote, dollar or line break", s.Name)
	}
	if len(s.Files) == 0 && len(s.Always) == 0 {
		return errors.New("files: nothing to install or run")
	}
	seen := map[string]bool{}
	for i, f := range s.Files {
		path := fmt.Sprintf("files[%d]", i)
		if !pathRE.MatchString(f.Path) || strings.Contains(f.Path, "/..") {
			return fmt.Errorf("%s.path: %q is not a plain absolute path", path, f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("%s.path: %q is installed twice", path, f.Path)
		}
		seen[f.Path] = true
		if !modeRE.MatchString(f.Mode) {
			return fmt.Errorf("%s.mode: %q is not an octal mode like \"0640\"", path, f.Mode)
		}
		for _, o := range []struct{ field, v string }{{"owner", f.Owner}, {"group", f.Group}} {
			if o.v != "" && !nameRE.MatchString(o.v) {
				return fmt.Errorf("%s.%s: %q is not a user or group name", path, o.field, o.v)
			}
		}
	}
	for _, c := range []struct {
		field string
		cmds  []string
	}{{"on_change", s.OnChange}, {"always", s.Always}} {
		for i, cmd := range c.cmds {
			if strings.TrimSpace(cmd) == "" || strings.ContainsAny(cmd, "\n\r") {
				return fmt.Errorf("%s[%d]: want one non-empty shell line", c.field, i)
			}
		}
	}
	return nil
}

// Render validates s and writes the script.
func (s Script) Render() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("push script: %w", err)
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# " + s.Name + ": rendered by rampart cloudinit/push; run as root with bash -s.\n")
	b.WriteString("set -euo pipefail\numask 077\nchanged=0\n")
	b.WriteString(`put() { # put PATH MODE OWNER GROUP < base64 content
  local tmp
  tmp=$(mktemp "$(dirname "$1")/.push.XXXXXX")
  base64 -d > "$tmp"
  chown "$3:$4" "$tmp"
  chmod "$2" "$tmp"
  if cmp -s "$tmp" "$1" && [ "$(stat -c %a:%U:%G "$1")" = "$(stat -c %a:%U:%G "$tmp")" ]; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$1"
    changed=1
    echo "installed $1"
  fi
}
`)
	for i, f := range s.Files {
		owner, group := or(f.Owner, "root"), or(f.Group, "root")
		dir := f.Path[:strings.LastIndex(f.Path, "/")]
		if dir != "" {
			b.WriteString("install -d -m 0755 " + dir + "\n")
		}
		eof := fmt.Sprintf("RAMPART_EOF_%d", i)
		fmt.Fprintf(&b, "put %s %s %s %s <<'%s'\n", f.Path, f.Mode, owner, group, eof)
		enc := base64.StdEncoding.EncodeToString(f.Content)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		if enc != "" {
			b.WriteString(enc + "\n")
		}
		b.WriteString(eof + "\n")
	}
	if len(s.OnChange) > 0 {
		b.WriteString("if [ \"$changed\" = 1 ]; then\n")
		for _, c := range s.OnChange {
			b.WriteString("  " + c + "\n")
		}
		b.WriteString("fi\n")
	}
	for _, c := range s.Always {
		b.WriteString(c + "\n")
	}
	b.WriteString("echo '" + s.Name + ": done'\n")
	return []byte(b.String()), nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
