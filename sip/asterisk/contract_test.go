package asterisk

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// TestContract runs the sip.Switch contract suite against a real Asterisk
// configured with the files of deploy/asterisk, on this machine (the test
// phones use 127.0.0.31-34 and Asterisk sends RTP to them):
//
//	HOTLINE_TEST_ARI_URL=http://127.0.0.1:8088/ari
//	HOTLINE_TEST_ARI_USER=hotline HOTLINE_TEST_ARI_PASSWORD=...
//	HOTLINE_TEST_ASTERISK_SIP=127.0.0.1:5060
//	go test ./sip/asterisk -run TestContract -v
//
// HOTLINE_TEST_AGENT_PASSWORD_PREFIX (default "hotline-") + user is the
// agents' password, as in deploy/asterisk/pjsip.conf.
func TestContract(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"HOTLINE_TEST_ARI_URL", "HOTLINE_TEST_ARI_USER", "HOTLINE_TEST_ARI_PASSWORD", "HOTLINE_TEST_ASTERISK_SIP"} {
		env[k] = os.Getenv(k)
		if env[k] == "" {
			t.Skipf("contract suite against Asterisk skipped: set HOTLINE_TEST_ARI_URL, HOTLINE_TEST_ARI_USER, "+
				"HOTLINE_TEST_ARI_PASSWORD and HOTLINE_TEST_ASTERISK_SIP (%s is empty) for an Asterisk 22 configured from deploy/asterisk", k)
		}
	}
	prefix := os.Getenv("HOTLINE_TEST_AGENT_PASSWORD_PREFIX")
	if prefix == "" {
		prefix = "hotline-"
	}
	level := slog.LevelInfo
	if os.Getenv("HOTLINE_TEST_LOG") == "debug" { // every ARI event
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	sw, err := New(Config{
		URL: env["HOTLINE_TEST_ARI_URL"], Username: env["HOTLINE_TEST_ARI_USER"], Password: env["HOTLINE_TEST_ARI_PASSWORD"],
		Application: "hotline",
		Trunks:      map[string]string{"provider": "PJSIP/%s@provider"}, DefaultTrunk: "provider",
		CallerID: "88001234567", RingTimeout: 10 * time.Second,
		MOHClasses: []string{"default"},
		Logger:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := sw.Start(ctx); err != nil {
		t.Fatalf("connect to ARI: %v", err)
	}
	t.Cleanup(sw.Close)

	sounds := "/usr/share/asterisk/sounds/ru"
	packets, err := siptest.WAVPackets(filepath.Join(sounds, "vm-intro.wav"))
	if err != nil {
		t.Skipf("the packet count needs the same core sounds locally: %v", err)
	}
	siptest.Run(t, siptest.Harness{
		Switch: sw,
		Trunk: siptest.TrunkSide{
			Addr: env["HOTLINE_TEST_ASTERISK_SIP"], IP: "127.0.0.31", Port: 5390,
			Name: "provider", Called: "88001234567",
		},
		Registrar: env["HOTLINE_TEST_ASTERISK_SIP"],
		Agents: []siptest.Agent{
			{User: "a9", Password: prefix + "a9"},
			{User: "a10", Password: prefix + "a10"},
		},
		PhoneIPs:      []string{"127.0.0.32", "127.0.0.33", "127.0.0.34"},
		RTPPorts:      [2]int{43000, 43999},
		Prompt:        sip.Prompt{Name: "vm-intro", Lang: "ru"},
		PromptPackets: packets,
		ShortPrompt:   sip.Prompt{Name: "queue-thereare", Lang: "ru"},
		MOHClass:      "default",
		// PJSIP/<endpoint> rings the AOR's first contact only. PJSIP takes
		// INFO digits whatever the endpoint's dtmf_mode.
		Caps:   siptest.Caps{NoFork: true, InfoDTMF: true},
		Logger: log,
	})
}
