package config

import (
	"cmp"
	"fmt"
	"os"
	"reflect"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// env gives Parse access to the process environment and file system
// (time zones included); tests replace it.
type env struct {
	lookupEnv    func(string) (string, bool)
	stat         func(string) (os.FileInfo, error)
	loadLocation func(string) (*time.Location, error)
	// loadKeyPair checks that a PEM certificate and key file exist and
	// belong together.
	loadKeyPair func(certFile, keyFile string) error
}

func osEnv() env {
	return env{lookupEnv: os.LookupEnv, stat: os.Stat, loadLocation: time.LoadLocation, loadKeyPair: loadKeyPair}
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses configuration data read from filename (used in messages
// only). It applies defaults, expands ${VAR} in passwords and the database
// URL, takes the database URL from DATABASE_URL when empty, and validates
// everything. On failure the error is an ErrorList naming every problem as
// "FILE:LINE: path: message". Relative directories are checked relative
// to the current working directory.
func Parse(filename string, data []byte) (*Config, error) {
	return parse(filename, data, osEnv())
}

func parse(filename string, data []byte, e env) (*Config, error) {
	r := newReporter(filename, len(data))
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// The YAML library's messages read "yaml: line N: ...".
		return nil, ErrorList{yamlError(filename, err)}
	}
	c := defaults()
	c.File = filename
	if len(doc.Content) > 0 {
		// A null root is an empty file: all defaults. Not decoding it keeps
		// its line out of every error, since the null of a bare "---" sits
		// on the line after the marker, which need not exist (FuzzParse
		// input a9e88922f87ae8de gave "fuzz.yaml:2" for a one-line file).
		if root := resolve(doc.Content[0]); root != nil && !isNull(root) {
			r.decode(root, reflect.ValueOf(c).Elem(), "")
		}
	}
	if !r.overBudget() { // validating a half-read file would only add noise
		validate(c, r, e)
		if len(r.errs) == 0 && len(doc.Content) > 0 {
			moveCalendar(doc.Content[0], c, r)
		}
	}
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
		return nil, r.errs
	}
	c.Warnings = r.warnings
	return c, nil
}
