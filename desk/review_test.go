package desk

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

type reviewList []ReviewRow

func (l reviewList) ReviewList(context.Context) ([]ReviewRow, error) { return l, nil }

// TestReviewPanel: the low ratings a user sees: agents none (403),
// supervisors their teams' agents' and their queues', admins all.
func TestReviewPanel(t *testing.T) {
	f := newFixture(t)
	f.d.cfg.Review = reviewList{
		{CallID: "c1", Agent: "a1", Queue: "support", Recording: "/desk/api/calls/c1/recording"},
		{CallID: "c2", Agent: "a2", Queue: "support"},
		{CallID: "c3", Agent: "s1", Queue: "vip"},
	}
	for _, tc := range []struct {
		user string
		code int
		want []string
	}{
		{"a1", http.StatusForbidden, nil},
		{"sv1", http.StatusOK, []string{"c1"}},
		{"sv2", http.StatusOK, []string{"c2", "c3"}},
		{"root", http.StatusOK, []string{"c1", "c2", "c3"}},
	} {
		c := f.client(t)
		if code := c.login(tc.user, "pw-"+tc.user); code != http.StatusOK {
			t.Fatalf("login %s: %d", tc.user, code)
		}
		code, body := c.do(http.MethodGet, "/desk/api/review", "", nil)
		if code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.user, code, body, tc.code)
			continue
		}
		if code != http.StatusOK {
			continue
		}
		var out struct{ Review []ReviewRow }
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out.Review {
			got = append(got, r.CallID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s sees %v, want %v", tc.user, got, tc.want)
		}
	}
}
