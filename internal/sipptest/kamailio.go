package sipptest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Kamailio is a running Kamailio (the SIP front of deploy/kamailio).
type Kamailio struct {
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
}

// StartKamailio runs kamailio in the foreground with the config file cfg
// and the preprocessor defines given ("NAME=value", as kamailio -A takes
// them), its runtime files in a temporary directory, and waits until it
// answers OPTIONS on probe (host:port, UDP). It is stopped at the end of the
// test, its log shown if the test failed.
func StartKamailio(t *testing.T, cfg, probe string, defines ...string) *Kamailio {
	t.Helper()
	NeedTools(t, "kamailio")
	dir := t.TempDir()
	args := []string{"-f", cfg, "-DD", "-E", "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-w", dir, "-m", "64", "-M", "8"}
	for _, d := range defines {
		args = append(args, "-A", d)
	}
	k := &Kamailio{out: &Buffer{}, done: make(chan struct{})}
	k.cmd = exec.Command("kamailio", args...)
	k.cmd.Stdout, k.cmd.Stderr = k.out, k.out
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = k.cmd.Wait(); close(k.done) }()
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("kamailio output:\n%s", Tail(k.out.String(), 6000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if answersOptions(probe) {
			return k
		}
		select {
		case <-k.done:
			t.Fatalf("kamailio exited:\n%s", Tail(k.out.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio does not answer OPTIONS on %s:\n%s", probe, Tail(k.out.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Output is what Kamailio logged so far.
func (k *Kamailio) Output() string { return k.out.String() }

// Stop ends Kamailio (SIGTERM to its process group's creator, then waits).
func (k *Kamailio) Stop() {
	select {
	case <-k.done:
		return
	default:
	}
	_ = k.cmd.Process.Signal(os.Interrupt)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}

// answersOptions sends one OPTIONS to addr and reports whether a 200 came
// back within 300 ms.
func answersOptions(addr string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	local := c.LocalAddr().String()
	msg := fmt.Sprintf("OPTIONS sip:%[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=z9hG4bK-probe%[3]d;rport\r\n"+
		"From: <sip:probe@%[2]s>;tag=p%[3]d\r\nTo: <sip:%[1]s>\r\nCall-ID: probe-%[3]d@test\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", addr, local, time.Now().UnixNano())
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200")
}
