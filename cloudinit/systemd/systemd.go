// Package systemd renders systemd unit files from typed structs, and the
// units of Rampart's services: nats-server, the edge agent and the control
// service.
package systemd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Unit is a .service unit file.
type Unit struct {
	// Name is the file name, e.g. "nats-server.service".
	Name        string
	Description string
	// After and Wants order the unit and pull in what it needs.
	After, Wants []string
	Service      Service
	// WantedBy is the [Install] target; empty means "multi-user.target".
	WantedBy string
}

// Service is the [Service] section.
type Service struct {
	// Type is simple (the default), exec, notify or oneshot.
	Type string
	// User and Group run the process; empty means root.
	User, Group string
	// ExecStart is the command line, one argument per element.
	ExecStart []string
	// ExecStartPre runs before ExecStart, one argument per element.
	ExecStartPre []string
	// ExecReload, if set, is how "systemctl reload" signals the process.
	ExecReload []string
	// Restart is "always", "on-failure" or empty (never).
	Restart string
	// RestartSec is the delay before a restart, e.g. "2s".
	RestartSec string
	// RemainAfterExit keeps a oneshot unit active after it ran.
	RemainAfterExit bool
	// EnvironmentFile, if set, is read for secrets kept off the command line.
	EnvironmentFile string
	// AmbientCapabilities such as CAP_NET_BIND_SERVICE.
	AmbientCapabilities []string
	// LimitNOFILE caps open files; 0 keeps the default.
	LimitNOFILE int
	// StateDirectory, if set, is created under /var/lib and owned by User.
	StateDirectory string
	// Hardening turns on the sandboxing every Rampart service runs with.
	Hardening bool
}

// Validate checks u, naming the first bad field.
func (u Unit) Validate() error {
	if !strings.HasSuffix(u.Name, ".service") || strings.ContainsAny(u.Name, "/ \n") {
		return fmt.Errorf("name: %q is not a .service file name", u.Name)
	}
	if err := line(u.Description); err != nil || u.Description == "" {
		return fmt.Errorf("description: %q must be one non-empty line", u.Description)
	}
	for _, l := range []struct {
		field string
		vs    []string
	}{{"after", u.After}, {"wants", u.Wants}} {
		for i, v := range l.vs {
			if v == "" || strings.ContainsAny(v, " \n") {
				return fmt.Errorf("%s[%d]: %q is not a unit name", l.field, i, v)
			}
		}
	}
	s := u.Service
	if !slices.Contains([]string{"", "simple", "exec", "notify", "oneshot"}, s.Type) {
		return fmt.Errorf("service.type: %q is not simple, exec, notify or oneshot", s.Type)
	}
	if len(s.ExecStart) == 0 || !strings.HasPrefix(s.ExecStart[0], "/") {
		return errors.New("service.exec_start: want an absolute program path and its arguments")
	}
	for _, c := range []struct {
		field string
		argv  []string
	}{{"exec_start", s.ExecStart}, {"exec_start_pre", s.ExecStartPre}, {"exec_reload", s.ExecReload}} {
		for i, a := range c.argv {
			if err := line(a); err != nil {
				return fmt.Errorf("service.%s[%d]: %w", c.field, i, err)
			}
		}
	}
	if !slices.Contains([]string{"", "always", "on-failure"}, s.Restart) {
		return fmt.Errorf("service.restart: %q is not always or on-failure", s.Restart)
	}
	for _, f := range []struct{ field, v string }{
		{"user", s.User}, {"group", s.Group}, {"restart_sec", s.RestartSec},
		{"environment_file", s.EnvironmentFile}, {"state_directory", s.StateDirectory}, {"wanted_by", u.WantedBy},
	} {
		if strings.ContainsAny(f.v, " \n\"'\\") {
			return fmt.Errorf("service.%s: %q has a space, quote or line break", f.field, f.v)
		}
	}
	if s.EnvironmentFile != "" && !strings.HasPrefix(s.EnvironmentFile, "/") {
		return fmt.Errorf("service.environment_file: %q is not absolute", s.EnvironmentFile)
	}
	if s.LimitNOFILE < 0 {
		return fmt.Errorf("service.limit_nofile: %d is negative", s.LimitNOFILE)
	}
	return nil
}

func line(s string) error {
	if strings.ContainsAny(s, "\n\r") {
		return errors.New("contains a line break")
	}
	return nil
}

// Render validates u and writes the unit file.
func (u Unit) Render() ([]byte, error) {
	if err := u.Validate(); err != nil {
		return nil, fmt.Errorf("unit %s: %w", u.Name, err)
	}
	var b strings.Builder
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(k + "=" + v + "\n")
		}
	}
	b.WriteString("# Rendered by rampart cloudinit/systemd; do not edit.\n[Unit]\n")
	kv("Description", u.Description)
	kv("After", strings.Join(u.After, " "))
	kv("Wants", strings.Join(u.Wants, " "))
	s := u.Service
	b.WriteString("\n[Service]\n")
	kv("Type", s.Type)
	kv("User", s.User)
	kv("Group", s.Group)
	kv("EnvironmentFile", s.EnvironmentFile)
	if len(s.ExecStartPre) > 0 {
		kv("ExecStartPre", commandLine(s.ExecStartPre))
	}
	kv("ExecStart", commandLine(s.ExecStart))
	if len(s.ExecReload) > 0 {
		kv("ExecReload", commandLine(s.ExecReload))
	}
	if s.RemainAfterExit {
		kv("RemainAfterExit", "yes")
	}
	kv("Restart", s.Restart)
	kv("RestartSec", s.RestartSec)
	kv("StateDirectory", s.StateDirectory)
	kv("AmbientCapabilities", strings.Join(s.AmbientCapabilities, " "))
	if len(s.AmbientCapabilities) > 0 {
		kv("CapabilityBoundingSet", strings.Join(s.AmbientCapabilities, " "))
	}
	if s.LimitNOFILE > 0 {
		kv("LimitNOFILE", fmt.Sprint(s.LimitNOFILE))
	}
	if s.Hardening {
		b.WriteString("NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nPrivateDevices=yes\n" +
			"ProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectControlGroups=yes\nRestrictSUIDSGID=yes\n" +
			"LockPersonality=yes\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n")
	}
	wanted := u.WantedBy
	if wanted == "" {
		wanted = "multi-user.target"
	}
	b.WriteString("\n[Install]\nWantedBy=" + wanted + "\n")
	return []byte(b.String()), nil
}

// commandLine quotes argv for systemd: arguments with spaces, quotes,
// backslashes or semicolons are double-quoted and "%" is escaped, so no
// specifier is expanded; "$NAME" still expands (as in "kill -HUP $MAINPID").
func commandLine(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, " \t\"'\\;") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
