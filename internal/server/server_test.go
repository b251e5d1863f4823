package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/ivr"
)

// testConfig is a small native-mode config on loopback with the system's
// sounds; extra is appended (top-level sections). New binds no port.
func testConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("unit.yaml", []byte(testYAML(extra)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testYAML(extra string) string {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	return strings.ReplaceAll(`
service: {name: hotline-unit}
sip:
  listen: "127.0.0.1:5999"
  trunks:
    - {name: provider, allow: ["127.0.0.2"], address: "127.0.0.2:5060", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "38000-38099"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:8999"}
agents:
  - {id: a1, password: pw-a1, skills: {general: 1}}
queues:
  - {name: support, skill: general}
`, "ROOT", root) + extra
}

const testIVR = `
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        hello: {type: play, prompt: digits/1, next: queue}
        queue: {type: queue, queue: support}
`

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestServiceOrder: the services are listed in dependency order (what
// each needs comes before it); the database's, the survey's only when
// they are configured.
func TestServiceOrder(t *testing.T) {
	t.Setenv("DATABASE_URL", "") // the config takes it when database.url is empty
	for _, tc := range []struct {
		name, extra string
		want        []string
	}{
		{"no database", testIVR, []string{
			"recording", "metrics", "event bus", "queue runner", "switch", "http", "call intake"}},
		{"no database, survey on", testIVR + "survey: {enabled: true}\n", []string{
			"recording", "metrics", "event bus", "queue runner", "switch", "http", "call intake"}},
		{"database and survey", testIVR + "database: {url: \"postgres://h@127.0.0.1:1/h\"}\nsurvey: {enabled: true}\n", []string{
			"database", "recording", "desk sessions", "projector", "event writer", "privacy", "metrics", "staffing gauge", "event bus",
			"queue runner", "crash recovery", "switch", "callbacks", "survey", "http", "call intake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(testConfig(t, tc.extra), discard())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			if got := s.services.names(); !slices.Equal(got, tc.want) {
				t.Fatalf("services %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestServiceOrderTwoNodes: with node.line the node stands by with the
// services every node runs and starts the rest when it wins the line's
// lease (line.go), each list in dependency order.
func TestServiceOrderTwoNodes(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	s, err := New(testConfig(t, testIVR+"database: {url: \"postgres://h@127.0.0.1:1/h\"}\nsurvey: {enabled: true}\nnode: {id: a, line: \"8800\"}\n"), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if got, want := s.services.names(), []string{"database", "recording", "desk sessions", "event writer", "event bus",
		"queue runner", "switch", "http", "line lease"}; !slices.Equal(got, want) {
		t.Errorf("standby services %v\nwant %v", got, want)
	}
	if got, want := s.activeSvcs.names(), []string{"projector", "privacy", "metrics", "staffing gauge", "crash recovery",
		"callbacks", "survey", "call intake"}; !slices.Equal(got, want) {
		t.Errorf("active services %v\nwant %v", got, want)
	}
	if r := s.Role(); r != "standby" {
		t.Errorf("role before the lease = %q, want standby", r)
	}
}

// TestStartShutdown: a server without a database starts on free ports, is
// ready, and shuts down cleanly once; it does not run again.
func TestStartShutdown(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	cfg := testConfig(t, testIVR)
	cfg.SIP.Listen = fmt.Sprintf("127.0.0.1:%d", sipptest.FreeUDPAndTCPPort(t))
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", sipptest.FreeUDPAndTCPPort(t))
	s, err := New(cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.SIPAddr().String(); got != cfg.SIP.Listen {
		t.Errorf("SIPAddr %s, want %s", got, cfg.SIP.Listen)
	}
	resp, err := http.Get("http://" + s.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if _, err := http.Get("http://" + s.HTTPAddr() + "/readyz"); err == nil {
		t.Error("HTTP still answers after shutdown")
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
}

// TestRegion: callers' national numbers are read in the region ivr.region
// names (RU when absent), not a hard-coded RU, and a reload changes it for
// new calls.
func TestRegion(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	s, err := New(testConfig(t, testIVR), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if got := s.flows.Load().region; got != "RU" {
		t.Fatalf("region %q without ivr.region, want RU", got)
	}
	by := strings.Replace(testIVR, "ivr:\n", "ivr:\n  region: by\n", 1)
	path := filepath.Join(t.TempDir(), "h.yaml")
	if err := os.WriteFile(path, []byte(testYAML(by)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(path); err != nil {
		t.Fatal(err)
	}
	f := s.flows.Load()
	if f.region != "BY" {
		t.Fatalf("region %q after the reload, want BY", f.region)
	}
	// 8 029 … is a Belarusian mobile in the national form, no Russian number.
	const national = "80291234567"
	if got := ivr.NormalizeCaller(national, f.region).E164; got != "+375291234567" {
		t.Fatalf("NormalizeCaller(%s, BY) = %q, want +375291234567", national, got)
	}
	if got := ivr.NormalizeCaller(national, "RU").E164; got != "" {
		t.Fatalf("NormalizeCaller(%s, RU) = %q; want invalid (the test would not tell the regions apart)", national, got)
	}
}
