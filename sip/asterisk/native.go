// The native ARI client (github.com/CyCoreSystems/ari/v6/client/native):
// the default Config.Connect.

package asterisk

import (
	"context"
	"fmt"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"
)

func init() { defaultConnect = connectNative }

// connectNative connects the library's native client. The library keeps
// retrying its websocket by itself; an attempt that does not connect within
// ConnectTimeout is abandoned here (its context cancelled) so that the
// Switch's own backoff applies.
func connectNative(ctx context.Context, cfg Config) (ari.Client, error) {
	c := native.New(&native.Options{
		Application: cfg.Application, URL: cfg.URL, WebsocketURL: cfg.WebsocketURL,
		Username: cfg.Username, Password: cfg.Password,
		Logger: newExpLogger(cfg.Logger.With("component", "ari")),
	})
	connCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.ConnectWithContext(connCtx) }()
	select {
	case err := <-done:
		if err != nil {
			cancel()
			return nil, err
		}
	case <-time.After(cfg.ConnectTimeout):
		cancel()
		return nil, fmt.Errorf("asterisk: no ARI websocket at %s within %s", cfg.WebsocketURL, cfg.ConnectTimeout)
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	if _, err := c.Asterisk().Info(nil); err != nil {
		cancel()
		return nil, fmt.Errorf("asterisk: ARI %s: %w", cfg.URL, err)
	}
	return &closer{Client: c, cancel: cancel}, nil // a pointer: clients are compared
}

// closer closes the connection without the library's Close, which writes
// the client's connected flag while its listener goroutine may be writing it
// too (a data race -race reports). Cancelling the context the client was
// connected with stops the listener and closes the websocket; closing the
// bus ends the subscriptions.
type closer struct {
	ari.Client
	cancel context.CancelFunc
}

func (c closer) Close() {
	c.cancel()
	c.Client.Bus().Close()
}
