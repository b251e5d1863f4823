package simulate

import (
	"testing"

	"github.com/hotline-cc/hotline/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL of the end-to-end test.
func TestMain(m *testing.M) { pgtest.Main(m) }
