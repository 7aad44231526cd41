package webhook

import (
	"context"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// pruneBatch bounds one retention DELETE, so pruning a large backlog never
// holds locks for long.
const pruneBatch = 1000

// RunRetention deletes finished deliveries (and their attempts) older than
// Options.Retention, every Options.RetentionInterval, until ctx ends. Every
// instance runs it; concurrent runs delete disjoint or already-deleted
// rows, which is harmless.
func (e *Engine) RunRetention(ctx context.Context) {
	if e.opts.Retention <= 0 {
		return
	}
	ctx = assistloop.NewSystemContext(ctx)
	for {
		total := 0
		for {
			n, err := e.queue.PruneDeliveries(ctx, time.Now().Add(-e.opts.Retention), pruneBatch)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("webhook retention failed", "err", err)
				}
				break
			}
			total += n
			if n < pruneBatch {
				break
			}
		}
		if total > 0 {
			e.log.Info("pruned finished webhook deliveries", "deliveries", total, "older_than", e.opts.Retention)
		}
		if !sleep(ctx, e.opts.RetentionInterval) {
			return
		}
	}
}
