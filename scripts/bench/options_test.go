package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 8*time.Second || o.Rounds != 3 || o.Connections != 64 || o.Threads != 2 ||
		o.Timeout != 15*time.Minute || !o.Install || o.Out != ".bench/bench.md" || o.JSONOut != ".bench/bench.json" {
		t.Errorf("defaults: %+v", o)
	}
	if o.h2Connections() != 16 {
		t.Errorf("h2 connections = %d, want 64/4", o.h2Connections())
	}

	o, err = parseOptions([]string{"-smoke"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != time.Second || o.Rounds != 1 || o.Warmup != 0 || o.Install || o.Timeout > time.Minute+30*time.Second || o.Out != ".bench/smoke.md" {
		t.Errorf("smoke defaults: %+v", o)
	}

	o, err = parseOptions([]string{"-smoke", "-d", "3s", "-out", "docs/bench.md", "-edge-features", "waf, cache", "-workloads", "proxy-1k"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 3*time.Second || o.JSONOut != ".bench/bench.json" || !o.hasFeature(featureWAF) || !o.hasFeature(featureCache) ||
		!o.wants("proxy-1k") || o.wants("h2-1k") {
		t.Errorf("explicit flags: %+v", o)
	}
	if !o.hasFeature("") {
		t.Error("no feature needed must always be there")
	}
}

func TestParseOptionsRejects(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-d", "10ms"}, "-d"},
		{[]string{"-rounds", "0"}, "-rounds"},
		{[]string{"-c", "1"}, "-c"},
		{[]string{"-m", "40"}, "-m"},
		{[]string{"-out", "bench.txt"}, "-out"},
		{[]string{"-workloads", "proxy-1k,nope"}, `unknown workload "nope"`},
		{[]string{"-edge-features", "ratelimit"}, `unknown feature "ratelimit"`},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := parseOptions(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseOptions(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestJSONPathFor(t *testing.T) {
	for md, want := range map[string]string{
		".bench/bench.md": ".bench/bench.json",
		".bench/smoke.md": ".bench/smoke.json",
		"docs/bench.md":   ".bench/bench.json",
		"out.md":          ".bench/out.json",
	} {
		if got := jsonPathFor(md); got != want {
			t.Errorf("jsonPathFor(%q) = %q, want %q", md, got, want)
		}
	}
}
