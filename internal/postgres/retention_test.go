package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/postgres"
)

// TestPruneDeliveries: finished deliveries older than the cut-off go, with
// their attempts; recent and pending ones stay.
func TestPruneDeliveries(t *testing.T) {
	f := newFixture(t)
	q := postgres.NewDeliveryQueue(f.db)
	sub := f.subscribe(t, assistloop.EventNewConversation)
	for range 4 {
		f.startConversation(t)
	}
	if _, err := q.FanOut(f.sysCtx, "retention", f.eventIDs(t)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := f.db.Bun().NewRaw("SELECT id::text FROM webhook_deliveries WHERE subscription_id = ? ORDER BY created_at", sub.ID).Scan(f.sysCtx, &ids); err != nil || len(ids) != 4 {
		t.Fatalf("%d deliveries (%v), want 4", len(ids), err)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := f.db.Bun().ExecContext(f.sysCtx, query, args...); err != nil {
			t.Fatal(err)
		}
	}
	// 0: succeeded long ago, with an attempt; 1: failed long ago;
	// 2: succeeded recently; 3: still pending.
	exec("UPDATE webhook_deliveries SET status = 'succeeded', completed_at = now() - interval '40 days' WHERE id = ?", ids[0])
	exec("INSERT INTO webhook_delivery_attempts (delivery_id, number, attempted_at, latency_ms, status_code) VALUES (?, 1, now() - interval '40 days', 12, 200)", ids[0])
	exec("UPDATE webhook_deliveries SET status = 'failed', completed_at = now() - interval '31 days' WHERE id = ?", ids[1])
	exec("UPDATE webhook_deliveries SET status = 'succeeded', completed_at = now() - interval '1 day' WHERE id = ?", ids[2])

	if _, err := q.PruneDeliveries(f.userCtx, time.Now(), 10); assistloop.ErrorCode(err) != assistloop.EFORBIDDEN {
		t.Errorf("a user pruning: %v, want forbidden", err)
	}
	cut := time.Now().Add(-30 * 24 * time.Hour)
	n, err := q.PruneDeliveries(f.sysCtx, cut, 1) // one batch of one
	if err != nil || n != 1 {
		t.Fatalf("first batch pruned %d (%v), want 1", n, err)
	}
	if n, err = q.PruneDeliveries(f.sysCtx, cut, 10); err != nil || n != 1 {
		t.Fatalf("second batch pruned %d (%v), want 1", n, err)
	}
	var left []string
	if err := f.db.Bun().NewRaw("SELECT id::text FROM webhook_deliveries WHERE subscription_id = ? ORDER BY created_at", sub.ID).Scan(f.sysCtx, &left); err != nil {
		t.Fatal(err)
	}
	slices.Sort(left)
	want := []string{ids[2], ids[3]}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want the recent and the pending delivery %v", left, want)
	}
	var attempts int
	if err := f.db.Bun().NewRaw("SELECT count(*) FROM webhook_delivery_attempts WHERE delivery_id = ?", ids[0]).Scan(f.sysCtx, &attempts); err != nil || attempts != 0 {
		t.Errorf("%d attempts of a pruned delivery left (%v)", attempts, err)
	}
}
