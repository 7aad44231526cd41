package postgres

import (
	"context"
	"time"
)

// PruneDeliveries deletes finished deliveries completed before before, in
// one batch of at most limit; their attempts go with them (ON DELETE
// CASCADE).
func (q *DeliveryQueue) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := requireSystem(ctx); err != nil {
		return 0, err
	}
	res, err := q.db.bun.NewRaw(`DELETE FROM webhook_deliveries WHERE id IN (
			SELECT id FROM webhook_deliveries
			WHERE status <> 'pending' AND completed_at < ?
			ORDER BY completed_at
			LIMIT ?)`, before, limit).Exec(ctx)
	if err != nil {
		return 0, wrap("prune deliveries", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
