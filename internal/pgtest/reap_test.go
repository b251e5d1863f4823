package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A cluster whose owning process died is stopped and removed by the next
// StartCluster.
func TestOrphanClusterIsReaped(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL clusters")
	}
	orphan, err := StartCluster(ClusterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Pretend its owner was a process that has exited.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan.dir, ownerFile), []byte(strconv.Itoa(dead.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	next, err := StartCluster(ClusterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	if _, err := os.Stat(orphan.dir); !os.IsNotExist(err) {
		orphan.Stop()
		t.Fatalf("the orphan cluster's directory is still there (%v)", err)
	}
	if _, err := os.Stat(next.dir); err != nil {
		t.Fatalf("the new cluster was reaped too: %v", err)
	}
}
