package server

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/hotline-cc/hotline/sip/native"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgBindings keeps the native switch's registrations in PostgreSQL
// (table sip_bindings, reporting migration 005). The pool is read at each
// use: the switch is built before the database service opens it.
type pgBindings struct{ pool func() *pgxpool.Pool }

var _ native.BindingStore = pgBindings{}

func (b pgBindings) SaveBindings(ctx context.Context, user string, bs []native.Binding) error {
	return pgx.BeginFunc(ctx, b.pool(), func(tx pgx.Tx) error {
		// The user's old rows, and any user's expired ones (a phone's
		// address is kept no longer than its registration).
		if _, err := tx.Exec(ctx, `DELETE FROM sip_bindings WHERE sip_user = $1 OR expires_at < now()`, user); err != nil {
			return err
		}
		for _, x := range bs {
			if _, err := tx.Exec(ctx, `INSERT INTO sip_bindings (sip_user, contact, source, transport, call_id, cseq, expires_at, path)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sip_user, contact) DO NOTHING`,
				user, x.Contact, x.Source.String(), x.Transport, x.CallID, int64(x.CSeq), x.Expires, x.Path); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b pgBindings) LoadBindings(ctx context.Context) ([]native.Binding, error) {
	rows, err := b.pool().Query(ctx, `SELECT sip_user, contact, source, transport, call_id, cseq, expires_at, path
		FROM sip_bindings WHERE expires_at > now() ORDER BY sip_user, contact`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (native.Binding, error) {
		var x native.Binding
		var src string
		var cseq int64
		if err := r.Scan(&x.User, &x.Contact, &src, &x.Transport, &x.CallID, &cseq, &x.Expires, &x.Path); err != nil {
			return x, err
		}
		ap, err := netip.ParseAddrPort(src)
		if err != nil {
			return x, fmt.Errorf("sip_bindings: %q: source %q: %w", x.User, src, err)
		}
		x.Source, x.CSeq = ap, uint32(cseq)
		return x, nil
	})
}
