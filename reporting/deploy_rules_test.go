package reporting

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// promtoolPath finds promtool or fails with an install hint.
func promtoolPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install the Debian package prometheus (apt-get install prometheus), which ships promtool")
	}
	return p
}

// TestPrometheusRules checks deploy/prometheus: the config and rules parse
// (promtool check) and the rules' unit tests pass (promtool test rules).
func TestPrometheusRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool")
	}
	promtool := promtoolPath(t)
	dir := filepath.Join("..", "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", filepath.Join(dir, "rules", "hotline.rules.yml")},
		{"check", "config", filepath.Join(dir, "prometheus.yml")},
		{"test", "rules", filepath.Join(dir, "tests", "hotline.rules.test.yml")},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
