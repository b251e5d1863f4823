package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// apiClient calls hotline's HTTP API.
type apiClient struct {
	base  string
	token string // bearer token ("" = none)
	http  *http.Client
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (if not nil). A status other than 2xx is an error carrying
// hotline's message.
func (a *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = string(bytes.TrimSpace(b))
		}
		return &apiError{Status: res.StatusCode, Msg: fmt.Sprintf("%s %s: %d %s", method, path, res.StatusCode, e.Error)}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return e.Msg }

// agentView is what the simulator reads of GET /api/v1/agents/{id}.
type agentView struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	CallID string `json:"call_id"`
}
