package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCheckConfigMissingSounds: a sound directory that is not there stops
// check-config (and serve: server.CheckMedia runs New's checks) with one line per
// directory that names the file, the line and the package to install.
func TestCheckConfigMissingSounds(t *testing.T) {
	src, err := os.ReadFile("../../examples/hotline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// French core sounds: a Debian package this machine does not have.
	text := strings.Replace(string(src), "moh:\n    default: /usr/share/asterisk/moh", "moh:\n    default: /usr/share/asterisk/sounds/fr/moh-not-here", 1)
	if text == string(src) {
		t.Fatal("examples/hotline.yaml: media.moh.default not found")
	}
	// The line of the moved directory: one below "moh:".
	line := strings.Count(text[:strings.Index(text, "moh:\n    default: /usr/share/asterisk/sounds/fr")], "\n") + 2
	dir := t.TempDir()
	path := filepath.Join(dir, "h.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..") // the example's relative prompt directories
	var stdout, stderr bytes.Buffer
	if rc := runCheckConfig([]string{"-config", path}, &stdout, &stderr); rc != 1 {
		t.Fatalf("check-config: exit %d, want 1; stderr:\n%s", rc, stderr.String())
	}
	want := path + ":" + strconv.Itoa(line) + `: media.moh.default: directory "/usr/share/asterisk/sounds/fr/moh-not-here" does not exist: install it: apt-get install asterisk-core-sounds-fr asterisk-core-sounds-fr-wav` + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}
