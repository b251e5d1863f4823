// Package proctest kills a test's own helper process at a chosen moment,
// for crash tests: the test binary runs itself (os.Args[0]) with an
// environment that makes its TestMain act as the helper, waits for the
// helper's "READY" line and sends SIGKILL. It imports no hotline package.
package proctest

import (
	"bufio"
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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if line := sc.Text(); line == "READY" {
			ready = true
			break
		} else if strings.HasPrefix(line, "ERROR") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper: %s", line)
		}
	}
	if !ready {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper exited before %s", what)
	}
	if err := cmd.Process.Signal(os.Kill); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
}
