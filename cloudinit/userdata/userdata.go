// Package userdata renders cloud-init user-data (#cloud-config) from typed
// structs. Only the keys Rampart uses are modelled, so every field here is one
// the renderer and the tests know.
package userdata

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Header is the first line cloud-init requires of a cloud-config file.
const Header = "#cloud-config\n"

// CloudConfig is a #cloud-config document.
type CloudConfig struct {
	Hostname string `yaml:"hostname,omitempty"`
	// PreserveHostname false lets cloud-init set Hostname.
	PreserveHostname bool `yaml:"preserve_hostname"`
	// PackageUpdate runs apt-get update before installing Packages.
	PackageUpdate bool     `yaml:"package_update"`
	Packages      []string `yaml:"packages,omitempty"`
	// Groups and Users are created before WriteFiles is applied.
	Groups     []string `yaml:"groups,omitempty"`
	Users      []User   `yaml:"users,omitempty"`
	WriteFiles []File   `yaml:"write_files,omitempty"`
	// RunCmd runs once, at first boot, after packages and files; one argv each.
	RunCmd [][]string `yaml:"runcmd,omitempty"`
}

// User is one entry of users. The first entry is usually the literal
// "default" user, rendered by DefaultUser.
type User struct {
	Name         string `yaml:"name"`
	System       bool   `yaml:"system,omitempty"`
	Shell        string `yaml:"shell,omitempty"`
	LockPassword bool   `yaml:"lock_passwd,omitempty"`
	NoCreateHome bool   `yaml:"no_create_home,omitempty"`
	PrimaryGroup string `yaml:"primary_group,omitempty"`
	// Default renders the entry as the string "default" (the image's user).
	Default bool `yaml:"-"`
}

// DefaultUser keeps the image's default user next to the ones listed.
var DefaultUser = User{Default: true}

// MarshalYAML writes the default user as the bare string cloud-init expects.
func (u User) MarshalYAML() (any, error) {
	if u.Default {
		return "default", nil
	}
	type plain User
	return plain(u), nil
}

// File is one entry of write_files.
type File struct {
	Path string `yaml:"path"`
	// Content is written as is; multi-line text renders as a literal block.
	Content string `yaml:"content"`
	// Owner is "user:group"; the user must exist (see Users).
	Owner string `yaml:"owner,omitempty"`
	// Permissions is an octal string such as "0600".
	Permissions string `yaml:"permissions"`
	// Defer writes the file after packages and users (cloud-init's "final" stage).
	Defer bool `yaml:"defer,omitempty"`
}

var (
	hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	packageRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	nameRE     = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	permRE     = regexp.MustCompile(`^0[0-7]{3}$`)
)

// Validate checks c, naming the first bad field by its cloud-config key.
func (c CloudConfig) Validate() error {
	if c.Hostname != "" && !hostnameRE.MatchString(c.Hostname) {
		return fmt.Errorf("hostname: %q is not a host name label", c.Hostname)
	}
	for i, p := range c.Packages {
		if !packageRE.MatchString(p) {
			return fmt.Errorf("packages[%d]: %q is not a Debian package name", i, p)
		}
	}
	for i, g := range c.Groups {
		if !nameRE.MatchString(g) {
			return fmt.Errorf("groups[%d]: %q is not a group name", i, g)
		}
	}
	users := map[string]bool{"root": true}
	for i, u := range c.Users {
		if u.Default {
			continue
		}
		if !nameRE.MatchString(u.Name) {
			return fmt.Errorf("users[%d].name: %q is not a user name", i, u.Name)
		}
		users[u.Name] = true
	}
	paths := map[string]bool{}
	for i, f := range c.WriteFiles {
		path := fmt.Sprintf("write_files[%d]", i)
		if !strings.HasPrefix(f.Path, "/") || strings.Contains(f.Path, "..") || strings.ContainsAny(f.Path, " \n") {
			return fmt.Errorf("%s.path: %q is not a plain absolute path", path, f.Path)
		}
		if paths[f.Path] {
			return fmt.Errorf("%s.path: %q is written twice", path, f.Path)
		}
		paths[f.Path] = true
		if !permRE.MatchString(f.Permissions) {
			return fmt.Errorf("%s.permissions: %q is not an octal mode like \"0644\"", path, f.Permissions)
		}
		if f.Owner != "" {
			user, _, _ := strings.Cut(f.Owner, ":")
			if !users[user] {
				return fmt.Errorf("%s.owner: user %q is neither root nor one of users", path, user)
			}
			if !f.Defer {
				// write_files runs before users are created.
				if user != "root" {
					return fmt.Errorf("%s.owner: %q needs defer: true (files are written before users exist)", path, f.Owner)
				}
			}
		}
	}
	for i, cmd := range c.RunCmd {
		if len(cmd) == 0 || cmd[0] == "" {
			return fmt.Errorf("runcmd[%d]: empty command", i)
		}
	}
	return nil
}

// Render validates c and writes it as a #cloud-config document.
func (c CloudConfig) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(Header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrTooLarge is returned by CheckSize for user-data over the provider limit.
var ErrTooLarge = errors.New("user-data: larger than 64 KiB, the DigitalOcean limit")

// CheckSize reports ErrTooLarge when b would be refused by the provider.
func CheckSize(b []byte) error {
	if len(b) > 64<<10 {
		return ErrTooLarge
	}
	return nil
}
