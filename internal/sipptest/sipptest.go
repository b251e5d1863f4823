// Package sipptest runs real SIP peers for end-to-end tests: SIPp with the
// scenarios of deploy/sipp (placeholders substituted, a control port of its
// own, statistics in a CSV file) and tcpdump captures on the loopback
// interface, plus the small helpers such tests share.
package sipptest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NeedTools skips the test under -short and fails it, with the install
// hint, when a tool is missing.
func NeedTools(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("real-peer test: skipped with -short")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run scripts/install-deps.sh test (Debian packages sip-tester, baresip, tcpdump, prometheus, kamailio)", tool)
		}
	}
}

// Buffer is a bytes.Buffer safe for concurrent writers (process output,
// logs).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail returns the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// FreeUDPPort returns a UDP port free on 127.0.0.1 now.
func FreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// FreeUDPAndTCPPort returns a port free on both UDP and TCP (SIP listens on
// both).
func FreeUDPAndTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port free on both UDP and TCP")
	return 0
}

// SIPp is a running SIPp.
type SIPp struct {
	cmd  *exec.Cmd
	dir  string
	out  *Buffer
	done chan struct{}
	err  error
}

// Start runs SIPp with the scenario file at path, each placeholder of
// replace substituted (longest first), its own control port, its unexpected
// messages in errors.log and its statistics in stat.csv. SIPp is killed at
// the end of the test if still running.
func Start(t *testing.T, path string, replace map[string]string, args ...string) *SIPp {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(replace))
	for k := range replace {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	text := string(src)
	for _, k := range keys {
		text = strings.ReplaceAll(text, k, replace[k])
	}
	s := &SIPp{dir: t.TempDir(), out: &Buffer{}, done: make(chan struct{})}
	sf := filepath.Join(s.dir, filepath.Base(path))
	if err := os.WriteFile(sf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every SIPp opens a UDP control socket (default 8888): give each its
	// own, or concurrent SIPps (other tests, other packages) collide.
	full := append([]string{"-sf", sf, "-nostdin", "-cp", strconv.Itoa(FreeUDPPort(t)),
		"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
		"-trace_stat", "-fd", "1", "-stf", filepath.Join(s.dir, "stat.csv")}, args...)
	s.cmd = exec.Command("sipp", full...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			errs, _ := os.ReadFile(filepath.Join(s.dir, "errors.log"))
			t.Logf("SIPp %s %v:\n%s\n%s", filepath.Base(path), args, Tail(s.Output(), 3000), Tail(string(errs), 2000))
		}
	})
	return s
}

// Done is closed when SIPp has exited.
func (s *SIPp) Done() <-chan struct{} { return s.done }

// Output is what SIPp printed so far.
func (s *SIPp) Output() string { return s.out.String() }

// Wait waits for SIPp to exit and fails the test unless every call passed.
func (s *SIPp) Wait(t *testing.T, what string, limit time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("%s: SIPp did not finish within %s; output:\n%s", what, limit, Tail(s.Output(), 3000))
	}
	if s.err != nil {
		errs, _ := os.ReadFile(filepath.Join(s.dir, "errors.log"))
		t.Fatalf("%s: SIPp failed (%v): %s\n%s", what, s.err, Tail(s.Output(), 3000), errs)
	}
}

// Stat reads a counter (e.g. "SuccessfulCall(C)") from SIPp's last
// statistics line.
func (s *SIPp) Stat(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(s.dir, "stat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("SIPp statistics: %v (%d rows)", err, len(rows))
	}
	for i, h := range rows[0] {
		if h == name {
			n, err := strconv.Atoi(strings.TrimSpace(rows[len(rows)-1][i]))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("SIPp statistics have no %s", name)
	return 0
}

// Capture is a running tcpdump on the loopback interface.
type Capture struct {
	cmd  *exec.Cmd
	file string
}

// StartCapture starts tcpdump with a capture filter; the test is skipped
// when not root (CI runs as root).
func StartCapture(t *testing.T, filter string) *Capture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("packet capture needs root (tcpdump on lo); CI runs as root")
	}
	file := filepath.Join(t.TempDir(), "cap.pcap")
	// --immediate-mode: without it packets still in the kernel's capture
	// block are lost when tcpdump is stopped.
	cmd := exec.Command("tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-w", file, filter)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start")
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &Capture{cmd: cmd, file: file}
}

// Stop stops the capture and returns one line per packet (tcpdump -n -r).
func (c *Capture) Stop(t *testing.T) []string {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // packets in flight
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	lines, err := c.read()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	return lines
}

// Lines returns one line per packet captured so far, without stopping.
func (c *Capture) Lines() []string {
	lines, _ := c.read()
	return lines
}

func (c *Capture) read() ([]string, error) {
	out, err := exec.Command("tcpdump", "-n", "-r", c.file).Output()
	if err != nil && len(out) == 0 {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// Baresip describes a real baresip softphone (Debian package baresip) for a
// test: it binds IP, registers User with Password at Registrar (UDP, so
// Debian's baresip 1.0 accepts it), answers calls by itself, sends Mic (an
// 8 kHz WAV) as its microphone and plays what it hears into a file.
type Baresip struct {
	IP             string
	SIPPort        int
	RTPPort        int // ten ports from here
	User, Password string
	Registrar      string // host:port
	Mic            string
	Seconds        int // it quits by itself after this long (default 60)
	// Transport of the account: "udp" (default) or "tls" (Registrar is
	// then the TLS address); CAFile is the PEM file baresip trusts.
	Transport, CAFile string
	// MediaEnc is the account's media encryption, e.g. "srtp-mand"
	// (SDES, RFC 4568); empty: plain RTP.
	MediaEnc string
	// CtrlPort, when set, opens baresip's ctrl_tcp on IP:CtrlPort for
	// commands (BaresipCommand), e.g. to dial once it has registered.
	CtrlPort int
}

// StartBaresip starts the softphone and returns its output; it is stopped
// at the end of the test, and its output logged if the test failed.
func StartBaresip(t *testing.T, b Baresip) *Buffer {
	t.Helper()
	if b.Seconds == 0 {
		b.Seconds = 60
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`sip_listen %[1]s:%[2]d
net_interface %[1]s
audio_player aufile,%[3]s
audio_source aufile,%[6]s
audio_alert aufile,/dev/null
rtp_ports %[4]d-%[5]d
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module_app account.so
module_app menu.so
`, b.IP, b.SIPPort, filepath.Join(dir, "heard.wav"), b.RTPPort, b.RTPPort+9, b.Mic)
	if b.CAFile != "" {
		cfg += "sip_cafile " + b.CAFile + "\n"
	}
	if b.MediaEnc != "" {
		cfg += "module srtp.so\n"
	}
	if b.CtrlPort != 0 {
		cfg += fmt.Sprintf("module_app ctrl_tcp.so\nctrl_tcp_listen %s:%d\n", b.IP, b.CtrlPort)
	}
	transport := b.Transport
	if transport == "" {
		transport = "udp"
	}
	acct := fmt.Sprintf("<sip:%s@%s;transport=%s>;auth_pass=%s;answermode=auto;regint=60;audio_codecs=PCMU,PCMA", b.User, b.Registrar, transport, b.Password)
	if b.MediaEnc != "" {
		acct += ";mediaenc=" + b.MediaEnc
	}
	acct += "\n"
	for name, body := range map[string]string{"config": cfg, "accounts": acct} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &Buffer{}
	cmd := exec.Command("baresip", "-f", dir, "-t", strconv.Itoa(b.Seconds))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", b.User, Tail(logs.String(), 3000))
		}
	})
	return logs
}

// BaresipCommand sends one command (e.g. "dial", "sip:100@host") to the
// ctrl_tcp of a baresip started with CtrlPort, as a netstring.
func BaresipCommand(t *testing.T, b Baresip, command, params string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(b.IP, strconv.Itoa(b.CtrlPort)), 5*time.Second)
	if err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	defer c.Close()
	msg := fmt.Sprintf(`{"command":%q,"params":%q,"token":"t"}`, command, params)
	if _, err := fmt.Fprintf(c, "%d:%s,", len(msg), msg); err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	_, _ = c.Read(buf) // the command's response; the call goes on without it
}
