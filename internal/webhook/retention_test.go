package webhook

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// pruneQueue records PruneDeliveries calls; the rest of the queue is not
// used by the retention loop.
type pruneQueue struct {
	assistloop.DeliveryQueue
	mu      sync.Mutex
	calls   []time.Time
	results []int
	done    chan struct{}
}

func (q *pruneQueue) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	if p := assistloop.PrincipalFrom(ctx); p == nil || !p.System {
		return 0, assistloop.Errorf(assistloop.EFORBIDDEN, "system only")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, before)
	n := 0
	if len(q.results) > 0 {
		n, q.results = q.results[0], q.results[1:]
	}
	if len(q.results) == 0 && q.done != nil {
		close(q.done)
		q.done = nil
	}
	return n, nil
}

// TestRetentionPrunesInBatchesThenWaits: a backlog is pruned in full
// batches until one comes back short, then the loop waits for the next
// interval; the cut-off is the retention period before now.
func TestRetentionPrunesInBatchesThenWaits(t *testing.T) {
	done := make(chan struct{})
	q := &pruneQueue{results: []int{pruneBatch, pruneBatch, 3, 0}, done: done}
	e := NewEngine(q, nil, Options{Retention: 48 * time.Hour, RetentionInterval: 20 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	start := time.Now()
	go func() { e.RunRetention(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("retention did not run")
	}
	cancel()
	<-stopped
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.calls) != 4 {
		t.Fatalf("%d prune calls, want 3 for the backlog and 1 after the interval", len(q.calls))
	}
	for _, before := range q.calls {
		if d := start.Sub(before); d < 48*time.Hour-time.Minute || d > 48*time.Hour+time.Minute {
			t.Errorf("cut-off %v before the start, want 48h", d)
		}
	}
}

func TestRetentionDisabled(t *testing.T) {
	q := &pruneQueue{}
	e := NewEngine(q, nil, Options{Retention: -1}, nil)
	e.RunRetention(context.Background()) // returns at once
	if len(q.calls) != 0 {
		t.Errorf("retention disabled but pruned %d times", len(q.calls))
	}
}
