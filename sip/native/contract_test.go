package native_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/native"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// The contract suite's peers live on 127.0.0.30-39: the switch on .30, the
// trunk phone on .31, agent phones on .32-.34.
const (
	contractSwitchIP = "127.0.0.30"
	contractTrunkIP  = "127.0.0.31"
	contractSounds   = "/usr/share/asterisk/sounds"
	contractMOH      = "/usr/share/asterisk/moh"
)

// TestContract runs the sip.Switch contract suite against the native switch
// with real SIP and RTP on loopback.
func TestContract(t *testing.T) {
	if testing.Short() {
		t.Skip("contract suite places real calls: skipped with -short")
	}
	for _, d := range []string{filepath.Join(contractSounds, "ru"), contractMOH} {
		if _, err := os.Stat(d); err != nil {
			t.Skipf("%s missing: install asterisk-core-sounds-ru-wav and asterisk-moh-opsound-wav", d)
		}
	}
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	eng, err := media.NewEngine(media.EngineConfig{
		IP: netip.MustParseAddr(contractSwitchIP), PortMin: 42000, PortMax: 42399,
		InactivityTimeout: 30 * time.Second, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := media.NewCatalog(media.CatalogConfig{
		Langs: map[string][]string{"ru": {filepath.Join(contractSounds, "ru")}, "en": {filepath.Join(contractSounds, "en")}},
		MOH:   map[string]string{"default": contractMOH},
	})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := native.New(native.Config{
		Listen: contractSwitchIP + ":0",
		Trunks: []native.Trunk{{
			Name: "provider", Allow: []string{contractTrunkIP},
			Address: contractTrunkIP + ":5390", CallerID: "88001234567",
		}},
		Credentials: native.StaticCredentials{"c1": "secret-c1", "c2": "secret-c2"},
		Media:       eng, Catalog: cat, Logger: log,
		RingTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := sw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)

	prompt := sip.Prompt{Name: "vm-intro", Lang: "ru"}
	packets, err := siptest.WAVPackets(filepath.Join(contractSounds, "ru", "vm-intro.wav"))
	if err != nil {
		t.Fatal(err)
	}
	siptest.Run(t, siptest.Harness{
		Switch: sw,
		Trunk: siptest.TrunkSide{
			Addr: sw.Addr().String(), IP: contractTrunkIP, Port: 5390,
			Name: "provider", Called: "88001234567",
		},
		Registrar:     sw.Addr().String(),
		Agents:        []siptest.Agent{{User: "c1", Password: "secret-c1"}, {User: "c2", Password: "secret-c2"}},
		PhoneIPs:      []string{"127.0.0.32", "127.0.0.33", "127.0.0.34"},
		RTPPorts:      [2]int{42400, 42999},
		Prompt:        prompt,
		PromptPackets: packets,
		ShortPrompt:   sip.Prompt{Name: "queue-thereare", Lang: "ru"},
		MOHClass:      "default",
		Caps:          siptest.Caps{InfoDTMF: true},
		Logger:        log,
	})
}
