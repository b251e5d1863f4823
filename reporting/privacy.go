package reporting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/jackc/pgx/v5"
)

// Personal data (152-FZ) is kept beside the append-only log, never in it:
// the events and call records carry a pseudonymous ref where an event
// carried a caller's number (Event.Caller), the digits an IVR collect
// node gathered (ivr.collect's KeyValue) or an agent's notes (KeyNotes of
// call.disposition, call.escalated, call.consult_started and
// callback.requested), and the personal_data table maps
// each ref to its value. Deleting a row (retention, erasure) leaves the
// ref anonymous; every figure still matches refs, so it stays computable.
// Refs are random, never derived from what they stand for.

// Kinds of personal data.
const (
	KindCaller    = "caller"
	KindCollected = "collected"
	KindNotes     = "notes"
)

// Erased and Expired replace personal values in the writer's spool when a
// number is erased or its retention period passes before the events
// reached the database; they are stored as they are (not values).
const (
	Erased  = "erased"
	Expired = "expired"
)

// refPrefix starts every ref.
const refPrefix = "p-"

// IsRef reports whether s is a pseudonymous ref ("p-" and 16 hex digits).
func IsRef(s string) bool {
	if len(s) != len(refPrefix)+16 || !strings.HasPrefix(s, refPrefix) {
		return false
	}
	for _, r := range s[len(refPrefix):] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func newRef() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return refPrefix + hex.EncodeToString(b[:])
}

// personalLock serializes erasure (exclusive) with event inserts (shared):
// an erasure waits for a batch in flight, so that batch cannot put the
// number back after it.
const personalLock = `hashtext('hotline.personal_data')`

// isValue reports whether a stored string is a personal value to move out
// of the log (not empty, not a ref, not a marker).
func isValue(s string) bool {
	return s != "" && !IsRef(s) && s != Erased && s != Expired
}

// personalFields lists the Data keys of e that hold personal values other
// than the caller's number, with their kind.
func personalFields(e eventlog.Event) []struct {
	key  eventlog.StringKey
	kind string
} {
	type f = struct {
		key  eventlog.StringKey
		kind string
	}
	switch e.Type {
	case eventlog.IVRCollect:
		if isValue(e.String(eventlog.KeyValue)) {
			return []f{{eventlog.KeyValue, KindCollected}}
		}
	case eventlog.CallDisposition, eventlog.CallEscalated, eventlog.ConsultStarted, eventlog.CallbackRequested:
		if isValue(e.String(eventlog.KeyNotes)) {
			return []f{{eventlog.KeyNotes, KindNotes}}
		}
	}
	return nil
}

// callerNumber returns the normalized number an event's Caller carries
// ("" for none: anonymous, a ref, a marker).
func callerNumber(e eventlog.Event) string {
	if IsRef(e.Caller) {
		return ""
	}
	return NormalizeNumber(e.Caller)
}

// pseudonymize returns evs with personal values replaced by refs, storing
// the values in personal_data in tx. evs are not modified (their Data maps
// are shared with the bus's other consumers): changed events get a copy.
// The same number gets the same ref as long as its caller row lives.
func pseudonymize(ctx context.Context, tx pgx.Tx, evs []eventlog.Event) ([]eventlog.Event, error) {
	type seen struct {
		value       string
		first, last time.Time
	}
	callers := map[string]*seen{}
	callOf := map[string]string{} // call id → number
	need := false
	for _, e := range evs {
		if n := callerNumber(e); n != "" {
			s := callers[n]
			if s == nil {
				s = &seen{value: e.Caller, first: e.At, last: e.At}
				callers[n] = s
			}
			if e.At.Before(s.first) {
				s.first = e.At
			}
			if e.At.After(s.last) {
				s.last = e.At
			}
			if e.CallID != "" {
				callOf[e.CallID] = n
			}
		}
		if len(personalFields(e)) > 0 {
			need = true
		}
	}
	if len(callers) == 0 && !need {
		return evs, nil
	}
	refs := map[string]string{} // number → ref
	if len(callers) > 0 {
		nums := slices.Sorted(maps.Keys(callers)) // one lock order for concurrent batches
		var rs, vs []string
		var fs, ls []time.Time
		for _, n := range nums {
			s := callers[n]
			rs, vs, fs, ls = append(rs, newRef()), append(vs, s.value), append(fs, s.first), append(ls, s.last)
		}
		rows, err := tx.Query(ctx, `INSERT INTO personal_data (ref, kind, value, number_norm, created_at, last_seen)
			SELECT r, 'caller', v, n, f, l FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS u(r, v, n, f, l)
			ON CONFLICT (number_norm) WHERE kind = 'caller'
			DO UPDATE SET last_seen = greatest(personal_data.last_seen, EXCLUDED.last_seen)
			RETURNING number_norm, ref`, rs, vs, nums, fs, ls)
		if err != nil {
			return nil, fmt.Errorf("personal data: callers: %w", err)
		}
		for rows.Next() {
			var n, r string
			if err := rows.Scan(&n, &r); err != nil {
				rows.Close()
				return nil, err
			}
			refs[n] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("personal data: callers: %w", err)
		}
	}
	// The number of calls whose other events carry values: from this
	// batch, else from the stored log.
	if need {
		var missing []string
		for _, e := range evs {
			if len(personalFields(e)) > 0 && e.CallID != "" {
				if _, ok := callOf[e.CallID]; !ok && !slices.Contains(missing, e.CallID) {
					missing = append(missing, e.CallID)
				}
			}
		}
		if len(missing) > 0 {
			rows, err := tx.Query(ctx, `SELECT DISTINCT ON (e.call_id) e.call_id, p.number_norm
				FROM events e JOIN personal_data p ON p.ref = e.caller AND p.kind = 'caller'
				WHERE e.call_id = ANY($1) AND e.caller LIKE 'p-%'`, missing)
			if err != nil {
				return nil, fmt.Errorf("personal data: calls: %w", err)
			}
			for rows.Next() {
				var c, n string
				if err := rows.Scan(&c, &n); err != nil {
					rows.Close()
					return nil, err
				}
				callOf[c] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	out := make([]eventlog.Event, len(evs))
	var rs, ks, vs, ns []string
	var ats []time.Time
	for i, e := range evs {
		fields := personalFields(e)
		n := callerNumber(e)
		if n == "" && len(fields) == 0 {
			out[i] = e
			continue
		}
		e.Data = maps.Clone(e.Data)
		if n != "" {
			e.Caller = refs[n]
		}
		for _, f := range fields {
			r := newRef()
			rs, ks, vs, ns, ats = append(rs, r), append(ks, f.kind), append(vs, e.String(f.key)), append(ns, callOf[e.CallID]), append(ats, e.At)
			e = e.WithString(f.key, r)
		}
		out[i] = e
	}
	if len(rs) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO personal_data (ref, kind, value, number_norm, created_at, last_seen)
			SELECT r, k, v, n, t, t FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(r, k, v, n, t)`,
			rs, ks, vs, ns, ats); err != nil {
			return nil, fmt.Errorf("personal data: values: %w", err)
		}
	}
	return out, nil
}

// migrateLegacy moves the personal values that an older hotline stored in
// events and calls into personal_data, once (privacy_migration.done).
func migrateLegacy(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	var done bool
	if err := tx.QueryRow(ctx, `SELECT done FROM privacy_migration FOR UPDATE`).Scan(&done); err != nil {
		return fmt.Errorf("privacy migration: %w", err)
	}
	if done {
		return tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_no_update`); err != nil {
		return err
	}
	var mark int64
	total := 0
	for {
		rows, err := tx.Query(ctx, `SELECT seq, `+eventCols+` FROM events
			WHERE seq > $1 AND (caller <> '' OR type IN ('ivr.collect', 'call.disposition', 'call.escalated'))
			ORDER BY seq LIMIT 5000`, mark)
		if err != nil {
			return err
		}
		var evs []eventlog.Event
		for rows.Next() {
			var e eventlog.Event
			var typ string
			var data map[string]string
			if err := rows.Scan(&mark, &e.ID, &e.At, &typ, &e.CallID, &e.Queue, &e.Agent, &e.Caller, &e.Priority, &e.Reason, &data); err != nil {
				rows.Close()
				return err
			}
			e.Type, e.Data = eventlog.Type(typ), data
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		out, err := pseudonymize(ctx, tx, evs)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for i, e := range out {
			if e.Caller != evs[i].Caller || !maps.Equal(e.Data, evs[i].Data) {
				var data any
				if len(e.Data) > 0 {
					data = e.Data
				}
				b.Queue(`UPDATE events SET caller = $2, data = $3 WHERE id = $1`, e.ID, e.Caller, data)
				total++
			}
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("privacy migration: events: %w", err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE events ENABLE TRIGGER events_no_update`); err != nil {
		return err
	}
	// Call records: the caller's ref; any number left unmapped is dropped.
	if _, err := tx.Exec(ctx, `UPDATE calls SET caller = p.ref, caller_norm = p.ref FROM personal_data p
		WHERE p.kind = 'caller' AND p.number_norm = calls.caller_norm AND calls.caller_norm LIKE '+%'`); err != nil {
		return fmt.Errorf("privacy migration: calls: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE calls SET caller = '', caller_norm = '' WHERE caller_norm LIKE '+%'`); err != nil {
		return fmt.Errorf("privacy migration: calls: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE privacy_migration SET done = true`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Erasure is what EraseNumber removed.
type Erasure struct {
	// Rows is the number of personal_data rows deleted (the number, the
	// digits collected in its calls, the notes on them).
	Rows int64 `json:"rows"`
}

// EraseNumber removes every personal value of one number (any form
// NormalizeNumber accepts): its caller mapping and the collected digits
// and notes of its calls. Events and call records keep their refs, now
// anonymous, so every figure stays as it was. A batch of events being
// inserted meanwhile is waited for. The writer's spool is not touched
// (Writer.Scrub, ScrubSpool).
func (s *Store) EraseNumber(ctx context.Context, number string) (Erasure, error) {
	norm := NormalizeNumber(number)
	if norm == "" {
		return Erasure{}, fmt.Errorf("reporting: %q is not a phone number", number)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Erasure{}, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+personalLock+`)`); err != nil {
		return Erasure{}, err
	}
	// Values stored before their call's number was known (an out-of-order
	// replay) have no number_norm: find them through the call records.
	tag, err := tx.Exec(ctx, `
WITH mine AS (SELECT ref FROM personal_data WHERE kind = 'caller' AND number_norm = $1),
calls_of AS (SELECT call_id FROM calls WHERE caller_norm IN (SELECT ref FROM mine)),
vals AS (
	SELECT e.data->>'value' AS ref FROM events e WHERE e.call_id IN (SELECT call_id FROM calls_of) AND e.type = 'ivr.collect'
	UNION ALL
	SELECT e.data->>'notes' FROM events e WHERE e.call_id IN (SELECT call_id FROM calls_of) AND e.type IN ('call.disposition', 'call.escalated')
)
DELETE FROM personal_data WHERE number_norm = $1 OR ref IN (SELECT ref FROM vals WHERE ref IS NOT NULL)`, norm)
	if err != nil {
		return Erasure{}, fmt.Errorf("reporting: erase: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Erasure{}, err
	}
	s.log.Info("reporting: personal data of a number erased", "rows", tag.RowsAffected())
	return Erasure{Rows: tag.RowsAffected()}, nil
}

// Retention is how long each kind of personal data is kept; zero or
// negative keeps it forever.
type Retention struct {
	// CallerNumbers counts from the last call of the number.
	CallerNumbers time.Duration
	// Collected and Notes count from the event that carried them.
	Collected, Notes time.Duration
}

// Purged is what PurgeExpired removed.
type Purged struct {
	Callers, Collected, Notes int64
	// Unlinked: collected digits and notes kept longer than the caller's
	// number lost their link to the number.
	Unlinked int64
}

// PurgeExpired deletes the personal data past its retention at now: the
// number of every caller who has not called for CallerNumbers, collected
// digits and notes older than their periods. Digits and notes kept longer
// than CallerNumbers stay, without the number they were linked to.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, r Retention) (Purged, error) {
	var p Purged
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return p, err
	}
	defer tx.Rollback(context.Background())
	del := func(kind string, keep time.Duration, n *int64) error {
		if keep <= 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, `DELETE FROM personal_data WHERE kind = $1 AND last_seen < $2`, kind, now.Add(-keep))
		*n = tag.RowsAffected()
		return err
	}
	if err := del(KindCaller, r.CallerNumbers, &p.Callers); err != nil {
		return p, err
	}
	if err := del(KindCollected, r.Collected, &p.Collected); err != nil {
		return p, err
	}
	if err := del(KindNotes, r.Notes, &p.Notes); err != nil {
		return p, err
	}
	if r.CallerNumbers > 0 {
		tag, err := tx.Exec(ctx, `UPDATE personal_data SET number_norm = '' WHERE kind <> 'caller' AND number_norm <> '' AND created_at < $1`,
			now.Add(-r.CallerNumbers))
		if err != nil {
			return p, err
		}
		p.Unlinked = tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return p, err
	}
	if p != (Purged{}) {
		s.log.Info("reporting: expired personal data deleted", "callers", p.Callers, "collected", p.Collected, "notes", p.Notes, "unlinked", p.Unlinked)
	}
	return p, nil
}

// Resolve returns the value a ref stands for and whether it is still
// known (false: erased or expired, or not a ref).
func (s *Store) Resolve(ctx context.Context, ref string) (string, bool, error) {
	if !IsRef(ref) {
		return "", false, nil
	}
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM personal_data WHERE ref = $1`, ref).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// shownCaller is the caller a person sees for a stored Caller: the
// number its ref maps to, "anonymous" when the mapping is gone (or the
// stored value is anything but a ref), "" for none. A number is never
// shown without its mapping.
func shownCaller(stored string, value *string) string {
	switch {
	case stored == "":
		return ""
	case value != nil:
		return *value
	default:
		return "anonymous"
	}
}

// CallsOfNumber returns the ids of the recorded calls from number (any
// form NormalizeNumber accepts) while its mapping lives: an erasure passes
// them to the spool's scrub before erasing the mapping.
func (s *Store) CallsOfNumber(ctx context.Context, number string) ([]string, error) {
	norm := NormalizeNumber(number)
	if norm == "" {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT call_id FROM calls
		WHERE caller_norm = (SELECT ref FROM personal_data WHERE kind = 'caller' AND number_norm = $1)`, norm)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
