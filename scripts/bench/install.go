package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

// debianPackages are the peers and load generators, in the order apt-get is given them.
var debianPackages = []string{
	"nginx", "libnginx-mod-http-modsecurity", "modsecurity-crs",
	"varnish", "haproxy", "caddy", "wrk", "nghttp2-client",
}

// packages records, per Debian package, its installed version or why it is missing.
type packages struct {
	Version map[string]string // package → installed version
	Missing map[string]string // package → why it is not installed
}

// need returns nil when every package in pkgs is installed, or an error
// naming the first missing one and why.
func (p packages) need(pkgs ...string) error {
	for _, pkg := range pkgs {
		if _, ok := p.Version[pkg]; !ok {
			why := p.Missing[pkg]
			if why == "" {
				why = "not installed"
			}
			return fmt.Errorf("package %s: %s", pkg, why)
		}
	}
	return nil
}

// missing lists the packages not installed, in install order.
func (p packages) missing() []string {
	var out []string
	for _, pkg := range debianPackages {
		if _, ok := p.Version[pkg]; !ok {
			out = append(out, pkg)
		}
	}
	return out
}

// installedVersion asks dpkg for an installed package's version.
func installedVersion(ctx context.Context, pkg string) (string, bool) {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}\t${Version}", pkg).Output()
	if err != nil {
		return "", false
	}
	status, version, _ := strings.Cut(string(out), "\t")
	if !strings.HasSuffix(status, " installed") {
		return "", false
	}
	return version, true
}

// scanPackages asks dpkg which of debianPackages are installed.
func scanPackages(ctx context.Context) packages {
	p := packages{Version: map[string]string{}, Missing: map[string]string{}}
	for _, pkg := range debianPackages {
		if v, ok := installedVersion(ctx, pkg); ok {
			p.Version[pkg] = v
		} else {
			p.Missing[pkg] = "not installed"
		}
	}
	return p
}

// ensurePackages finds which packages are installed and, when install is set,
// apt-get installs the rest. A package that cannot be installed is recorded
// with the reason; it never stops the run.
func ensurePackages(ctx context.Context, log *slog.Logger, install bool) packages {
	p := scanPackages(ctx)
	missing := p.missing()
	switch {
	case len(missing) == 0:
		return p
	case !install:
		for _, pkg := range missing {
			p.Missing[pkg] = "not installed (installing is off: -install=false or -smoke)"
		}
		return p
	case os.Geteuid() != 0:
		for _, pkg := range missing {
			p.Missing[pkg] = "not installed, and apt-get install needs root"
		}
		return p
	}
	log.Info("installing from Debian", "packages", strings.Join(missing, " "))
	failures := map[string]string{}
	if out, err := aptGet(ctx, append([]string{"install", "-y"}, missing...)...); err != nil {
		// The package lists may be missing or stale: refresh them once, then
		// try each package alone so a failure names the package that failed.
		log.Warn("apt-get install failed; updating the package lists and retrying one by one", "err", err, "output", tool.LastLines(out, 3))
		if out, err := aptGet(ctx, "update"); err != nil {
			log.Warn("apt-get update failed", "err", err, "output", tool.LastLines(out, 3))
		}
		for _, pkg := range missing {
			if out, err := aptGet(ctx, "install", "-y", pkg); err != nil {
				failures[pkg] = fmt.Sprintf("apt-get install %s: %v: %s", pkg, err, tool.LastLines(out, 2))
			}
		}
	}
	p = scanPackages(ctx)
	for pkg, why := range failures {
		if _, ok := p.Version[pkg]; !ok {
			p.Missing[pkg] = why
		}
	}
	return p
}

// aptGet runs apt-get non-interactively, bounded in time.
func aptGet(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
