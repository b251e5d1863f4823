package reporting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/jackc/pgx/v5"
)

// OpenCall is a call the event log shows arrived and never ended.
type OpenCall struct {
	CallID string
	Last   time.Time // the call's latest event
}

// OpenCalls lists calls that node took (call.arrived's node_id; calls
// logged before nodes were named count as every node's) at or after since
// and that have no call.ended: after a crash, the calls the dead process
// had up.
func (s *Store) OpenCalls(ctx context.Context, since time.Time, node string) ([]OpenCall, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT call_id, max(at) FROM events
		 WHERE call_id IN (SELECT call_id FROM events WHERE type = 'call.arrived' AND at >= $1
		                      AND coalesce(data->>'node_id', $2) = $2)
		 GROUP BY call_id
		HAVING NOT bool_or(type = 'call.ended')
		 ORDER BY min(at), call_id`, since, node)
	if err != nil {
		return nil, fmt.Errorf("reporting: open calls: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OpenCall, error) {
		var c OpenCall
		err := r.Scan(&c.CallID, &c.Last)
		c.Last = c.Last.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("reporting: open calls: %w", err)
	}
	return out, nil
}

// LastAgentStates returns each agent's latest agent.state since since
// (From, To and Reason as logged), in agent order.
func (s *Store) LastAgentStates(ctx context.Context, since time.Time) ([]AgentState, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (agent) id, agent, at, coalesce(data->>'from', ''), coalesce(data->>'to', ''), reason,
		       coalesce(data->>'wrapup_ms', ''), coalesce(data->>'of_call', ''), coalesce(data->>'queue', '')
		  FROM events
		 WHERE type = 'agent.state' AND at >= $1
		 ORDER BY agent, at DESC, seq DESC`, since)
	if err != nil {
		return nil, fmt.Errorf("reporting: last agent states: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentState, error) {
		var st AgentState
		var wrapMs string
		err := r.Scan(&st.EventID, &st.Agent, &st.At, &st.From, &st.To, &st.Reason, &wrapMs, &st.WrapCall, &st.WrapQueue)
		st.At = st.At.UTC()
		if d, ok := (eventlog.Event{Data: map[string]string{string(eventlog.KeyWrapup): wrapMs}}).Duration(eventlog.KeyWrapup); ok {
			st.WrapUp = d
		}
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("reporting: last agent states: %w", err)
	}
	return out, nil
}

// Beat records that node is alive at at (started is this process's start).
func (s *Store) Beat(ctx context.Context, node string, started, at time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO node_heartbeat (node, started_at, alive_at) VALUES ($1, $2, $3)
		ON CONFLICT (node) DO UPDATE SET started_at = $2, alive_at = $3`, node, started, at)
	if err != nil {
		return fmt.Errorf("reporting: heartbeat: %w", err)
	}
	return nil
}

// LastBeat returns when node was last known alive; ok is false when it
// never beat.
func (s *Store) LastBeat(ctx context.Context, node string) (at time.Time, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT alive_at FROM node_heartbeat WHERE node = $1`, node).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reporting: last heartbeat: %w", err)
	}
	return at.UTC(), true, nil
}
