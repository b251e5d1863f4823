package asterisk

import (
	"path/filepath"
	"testing"

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
	env := needAsterisk(t)
	env.needSounds(t, "ru", "vm-intro", "queue-thereare")
	sw := env.start(t)
	log := env.log

	sounds := "/usr/share/asterisk/sounds/ru"
	packets, err := siptest.WAVPackets(filepath.Join(sounds, "vm-intro.wav"))
	if err != nil {
		t.Skipf("the packet count needs the same core sounds locally: %v", err)
	}
	siptest.Run(t, siptest.Harness{
		Switch: sw,
		Trunk: siptest.TrunkSide{
			Addr: env.sip, IP: "127.0.0.31", Port: 5390,
			Name: "provider", Called: "88001234567",
		},
		Registrar: env.sip,
		Agents: []siptest.Agent{
			{User: "a9", Password: env.agentPrefix + "a9"},
			{User: "a10", Password: env.agentPrefix + "a10"},
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
