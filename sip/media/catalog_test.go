package media

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

const (
	systemRU  = "/usr/share/asterisk/sounds/ru"
	systemMOH = "/usr/share/asterisk/moh"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCatalogPrompts(t *testing.T) {
	custom := t.TempDir()
	pcm := []byte{1, 0, 2, 0, 3, 0}
	writeFile(t, filepath.Join(custom, "hotline", "greeting.wav"), wavImage(1, 1, 8000, 16, pcm))
	writeFile(t, filepath.Join(custom, "broken.wav"), wavImage(1, 2, 44100, 16, pcm[:4]))
	writeFile(t, filepath.Join(custom, "en", "hello.wav"), wavImage(1, 1, 8000, 16, pcm[:2]))
	dirs := []string{custom}
	haveSystem := checkDir(systemRU) == nil
	if haveSystem {
		dirs = append(dirs, systemRU)
	}
	c, err := NewCatalog(CatalogConfig{Langs: map[string][]string{"ru": dirs, "en": {filepath.Join(custom, "en")}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		p        sip.Prompt
		samples  int
		wantErr  error
		errHas   string
		ifSystem bool
	}{
		{name: "custom dir first", p: sip.Prompt{Name: "hotline/greeting"}, samples: 3},
		{name: "explicit lang", p: sip.Prompt{Name: "hello", Lang: "en"}, samples: 1},
		{name: "with .wav suffix", p: sip.Prompt{Name: "hotline/greeting.wav", Lang: "ru"}, samples: 3},
		{name: "system prompt", p: sip.Prompt{Name: "queue-thereare"}, samples: 14713, ifSystem: true},
		{name: "system digit", p: sip.Prompt{Name: "digits/5"}, samples: -1, ifSystem: true},
		{name: "silence", p: sip.Prompt{Silence: 100 * time.Millisecond}, samples: 800},
		{name: "silence rounds up", p: sip.Prompt{Silence: 30 * time.Millisecond}, samples: 320},
		{name: "missing", p: sip.Prompt{Name: "no-such-prompt"}, wantErr: sip.ErrUnknownPrompt, errHas: filepath.Join(custom, "no-such-prompt.wav")},
		{name: "unknown lang", p: sip.Prompt{Name: "x", Lang: "de"}, wantErr: sip.ErrUnknownPrompt, errHas: `"de"`},
		{name: "path traversal", p: sip.Prompt{Name: "../../etc/passwd"}, wantErr: sip.ErrUnknownPrompt},
		{name: "absolute", p: sip.Prompt{Name: "/etc/passwd"}, wantErr: sip.ErrUnknownPrompt},
		{name: "empty", p: sip.Prompt{}, wantErr: sip.ErrUnknownPrompt},
		{name: "bad format", p: sip.Prompt{Name: "broken"}, errHas: "broken.wav: unsupported format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ifSystem && !haveSystem {
				t.Skip("no system prompts")
			}
			s, err := c.Prompt(tt.p)
			if tt.wantErr != nil || tt.errHas != "" {
				if err == nil {
					t.Fatal("no error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v is not %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %q does not say %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.samples >= 0 && len(s.PCM) != tt.samples {
				t.Fatalf("%d samples, want %d", len(s.PCM), tt.samples)
			}
			again, _ := c.Prompt(tt.p)
			if again != s {
				t.Fatal("not cached")
			}
		})
	}
	if err := c.Check([]sip.Prompt{{Name: "hotline/greeting"}, {Name: "nope1"}, {Name: "nope2"}}); err == nil ||
		!strings.Contains(err.Error(), "nope1") || !strings.Contains(err.Error(), "nope2") {
		t.Fatalf("Check: %v", err)
	}
	// A prompt installed after a miss is found (misses are not cached).
	writeFile(t, filepath.Join(custom, "late.wav"), wavImage(1, 1, 8000, 16, pcm))
	if _, err := c.Prompt(sip.Prompt{Name: "late"}); err != nil {
		t.Fatal(err)
	}
}

func TestCatalogConcurrentLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.wav"), wavImage(1, 1, 8000, 16, make([]byte, 16000)))
	c, err := NewCatalog(CatalogConfig{Langs: map[string][]string{"ru": {dir}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*Sound, 16)
	for i := range got {
		wg.Go(func() {
			s, err := c.Prompt(sip.Prompt{Name: "p"})
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for _, s := range got {
		if s != got[0] || s == nil {
			t.Fatal("loaded more than once")
		}
	}
}

func TestCatalogMOH(t *testing.T) {
	good := t.TempDir()
	writeFile(t, filepath.Join(good, "b.wav"), wavImage(1, 1, 8000, 16, make([]byte, 320)))
	writeFile(t, filepath.Join(good, "a.WAV"), wavImage(1, 1, 8000, 16, make([]byte, 640)))
	writeFile(t, filepath.Join(good, "readme.txt"), []byte("not music"))
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "ok.wav"), wavImage(1, 1, 8000, 16, make([]byte, 320)))
	writeFile(t, filepath.Join(bad, "stereo.wav"), wavImage(1, 2, 8000, 16, make([]byte, 320)))
	empty := t.TempDir()

	tests := []struct {
		name   string
		cfg    CatalogConfig
		errHas string
	}{
		{"good", CatalogConfig{MOH: map[string]string{"default": good}}, ""},
		{"bad file", CatalogConfig{MOH: map[string]string{"default": bad}}, filepath.Join(bad, "stereo.wav") + ": unsupported format: 2 channels"},
		{"empty dir", CatalogConfig{MOH: map[string]string{"x": empty}}, "no .wav files"},
		{"missing dir", CatalogConfig{MOH: map[string]string{"x": "/nonexistent/moh"}}, "/nonexistent/moh"},
		{"missing prompt dir", CatalogConfig{Langs: map[string][]string{"ru": {"/nonexistent/ru"}}}, "/nonexistent/ru"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCatalog(tt.cfg)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("NewCatalog: %v, want an error saying %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.MOH("default")
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != 2 || len(s[0].PCM) != 320 || len(s[1].PCM) != 160 {
				t.Fatalf("MOH sounds not in name order: %d sounds", len(s))
			}
			if _, err := c.MOH("jazz"); !errors.Is(err, sip.ErrUnknownMOH) {
				t.Fatalf("unknown class: %v", err)
			}
			if got := c.MOHClasses(); len(got) != 1 || got[0] != "default" {
				t.Fatalf("MOHClasses = %v", got)
			}
		})
	}
}

func TestCatalogSystemMOH(t *testing.T) {
	if checkDir(systemMOH) != nil {
		t.Skip("asterisk-moh-opsound-wav not installed")
	}
	c, err := NewCatalog(CatalogConfig{MOH: map[string]string{"default": systemMOH}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.MOH("default")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 5 || !strings.HasSuffix(s[0].Name, "macroform-cold_day.wav") {
		t.Fatalf("got %d sounds, first %q", len(s), s[0].Name)
	}
}
