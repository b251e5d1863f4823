package media

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

// maxCachedSilences bounds the cache of distinct silence lengths.
const maxCachedSilences = 256

// Catalog resolves prompts and music-on-hold classes to sounds, loading each
// file once and caching it (safe for concurrent use).
type Catalog struct {
	langs   map[string][]string
	defLang string
	moh     map[string][]*Sound

	mu       sync.Mutex
	prompts  map[promptKey]*promptEntry
	silences map[time.Duration]*Sound
}

type promptKey struct{ lang, name string }

// promptEntry is one prompt being loaded or loaded; ready is closed when s
// or err is set.
type promptEntry struct {
	ready chan struct{}
	s     *Sound
	err   error
}

// NewCatalog loads the music-on-hold classes and checks the directories.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	c := &Catalog{
		langs:    make(map[string][]string, len(cfg.Langs)),
		defLang:  cfg.DefaultLang,
		moh:      make(map[string][]*Sound, len(cfg.MOH)),
		prompts:  make(map[promptKey]*promptEntry),
		silences: make(map[time.Duration]*Sound),
	}
	if c.defLang == "" {
		c.defLang = "ru"
	}
	var errs []error
	for lang, dirs := range cfg.Langs {
		for _, d := range dirs {
			if err := checkDir(d); err != nil {
				errs = append(errs, fmt.Errorf("media: prompts for %q: %w", lang, err))
			}
		}
		c.langs[lang] = slices.Clone(dirs)
	}
	for class, dir := range cfg.MOH {
		sounds, err := loadMOHDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("media: music-on-hold class %q: %w", class, err))
			continue
		}
		c.moh[class] = sounds
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func checkDir(d string) error {
	fi, err := os.Stat(d)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", d)
	}
	return nil
}

// loadMOHDir loads every *.wav of dir in name order.
func loadMOHDir(dir string) ([]*Sound, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sounds []*Sound
	var errs []error
	for _, e := range ents { // ReadDir sorts by name
		if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".wav") {
			continue
		}
		s, err := LoadWAV(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(s.PCM) == 0 {
			errs = append(errs, fmt.Errorf("media: WAV %s: no samples", s.Name))
			continue
		}
		sounds = append(sounds, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(sounds) == 0 {
		return nil, fmt.Errorf("no .wav files in %s", dir)
	}
	return sounds, nil
}

// Prompt returns the sound for p (silence for a Silence prompt). A missing
// file wraps sip.ErrUnknownPrompt and names what was searched.
func (c *Catalog) Prompt(p sip.Prompt) (*Sound, error) {
	if p.Name == "" {
		return c.silence(p)
	}
	name := strings.TrimSuffix(p.Name, ".wav")
	if !filepath.IsLocal(name) || strings.Contains(name, `\`) {
		return nil, fmt.Errorf("%w: %q is not a relative sound name", sip.ErrUnknownPrompt, p.Name)
	}
	lang := p.Lang
	if lang == "" {
		lang = c.defLang
	}
	dirs, ok := c.langs[lang]
	if !ok {
		return nil, fmt.Errorf("%w: %s: no prompt directories for language %q", sip.ErrUnknownPrompt, p, lang)
	}
	key := promptKey{lang, name}
	c.mu.Lock()
	e, ok := c.prompts[key]
	if !ok {
		e = &promptEntry{ready: make(chan struct{})}
		c.prompts[key] = e
	}
	c.mu.Unlock()
	if ok {
		<-e.ready
		return e.s, e.err
	}
	e.s, e.err = findPrompt(dirs, name, p)
	if e.err != nil {
		// Do not cache failures: the file may be installed later.
		c.mu.Lock()
		delete(c.prompts, key)
		c.mu.Unlock()
	}
	close(e.ready)
	return e.s, e.err
}

func findPrompt(dirs []string, name string, p sip.Prompt) (*Sound, error) {
	tried := make([]string, 0, len(dirs))
	for _, d := range dirs {
		path := filepath.Join(d, name+".wav")
		s, err := LoadWAV(path)
		if errors.Is(err, fs.ErrNotExist) {
			tried = append(tried, path)
			continue
		}
		return s, err
	}
	return nil, fmt.Errorf("%w: %s (searched %s)", sip.ErrUnknownPrompt, p, strings.Join(tried, ", "))
}

func (c *Catalog) silence(p sip.Prompt) (*Sound, error) {
	if p.Silence <= 0 {
		return nil, fmt.Errorf("%w: prompt with neither a name nor a silence length", sip.ErrUnknownPrompt)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.silences[p.Silence]; ok {
		return s, nil
	}
	s := Silence(p.Silence)
	if len(c.silences) < maxCachedSilences {
		c.silences[p.Silence] = s
	}
	return s, nil
}

// Silence returns d of silence (rounded up to whole 20 ms packets).
func Silence(d time.Duration) *Sound {
	frames := (d + packetDuration - 1) / packetDuration
	return &Sound{Name: "silence:" + d.String(), PCM: make([]int16, int(frames)*samplesPerPacket)}
}

// Check resolves every prompt, for validation at start.
func (c *Catalog) Check(ps []sip.Prompt) error {
	var errs []error
	for _, p := range ps {
		if _, err := c.Prompt(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MOH returns a class's sounds; an unknown class wraps sip.ErrUnknownMOH.
func (c *Catalog) MOH(class string) ([]*Sound, error) {
	s, ok := c.moh[class]
	if !ok {
		return nil, fmt.Errorf("%w: %q", sip.ErrUnknownMOH, class)
	}
	return slices.Clone(s), nil
}

// MOHClasses lists the configured music-on-hold classes, sorted.
func (c *Catalog) MOHClasses() []string {
	names := make([]string, 0, len(c.moh))
	for k := range c.moh {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
