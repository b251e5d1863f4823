// Package proctest kills a test's own helper process at a chosen moment,
// for crash tests: the test binary runs itself (os.Args[0]) with an
// environment that makes its TestMain act as the helper, waits for the
// helper's "READY" line and sends SIGKILL. It imports no hotline package.
package proctest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// KillWhenReady starts the test binary as a helper with env added to this
// process's environment, waits until the helper prints a line "READY" on
// its stdout, and kills it with SIGKILL. A line starting with "ERROR", or
// the helper ending before READY, fails the test; what names the moment
// READY marks, for the failure message.
func KillWhenReady(t *testing.T, what string, env ...string) {
	t.Helper()
	StartHelper(t, what, env...).Kill()
}

// Helper is a helper process a test controls: it runs until the test
// kills it (SIGKILL: a crash) or signals it (SIGTERM: a clean stop).
type Helper struct {
	cmd   *exec.Cmd
	done  chan struct{}
	stdin *os.File // the write end of the helper's stdin, never written
}

// StartHelper starts the test binary as a helper with env added to this
// process's environment and waits for its "READY" line (a line starting
// with "ERROR", or the helper ending first, fails the test). The helper is
// killed at the end of the test if still running.
//
// The helper's standard input is a pipe this process holds and never
// writes: it reads end of file once the test process is gone, however it
// ended (a -timeout panic runs no cleanup), so a helper that waits for
// that (ExitWithParent) does not outlive the test and hold its output open.
func StartHelper(t *testing.T, what string, env ...string) *Helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = stdinR
	if err := cmd.Start(); err != nil {
		stdinR.Close()
		stdinW.Close()
		t.Fatal(err)
	}
	stdinR.Close()
	h := &Helper{cmd: cmd, done: make(chan struct{}), stdin: stdinW}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if line := sc.Text(); line == "READY" {
			ready = true
			break
		} else if strings.HasPrefix(line, "ERROR") {
			cmd.Process.Kill()
			cmd.Wait()
			stdinW.Close()
			t.Fatalf("helper %s: %s", what, line)
		}
	}
	if !ready {
		cmd.Process.Kill()
		cmd.Wait()
		stdinW.Close()
		t.Fatalf("helper %s exited before READY", what)
	}
	go func() {
		for sc.Scan() { // keep the pipe drained
		}
		cmd.Wait()
		stdinW.Close()
		close(h.done)
	}()
	t.Cleanup(h.Kill)
	return h
}

// Kill sends SIGKILL and waits for the helper to end.
func (h *Helper) Kill() {
	select {
	case <-h.done:
		return
	default:
	}
	_ = h.cmd.Process.Signal(os.Kill)
	<-h.done
}

// Pid is the helper's process ID (to read its /proc entries).
func (h *Helper) Pid() int { return h.cmd.Process.Pid }

// ExitWithParent, called by a helper, ends the helper process with status
// 3 when its standard input reaches end of file: the test process that
// started it (StartHelper) has ended.
func ExitWithParent() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
}

// Signal sends sig (e.g. syscall.SIGTERM) to the helper.
func (h *Helper) Signal(sig os.Signal) error { return h.cmd.Process.Signal(sig) }

// Done is closed when the helper has ended.
func (h *Helper) Done() <-chan struct{} { return h.done }

// ExitCode is the helper's exit status once Done is closed (-1 when a
// signal ended it).
func (h *Helper) ExitCode() int { return h.cmd.ProcessState.ExitCode() }
