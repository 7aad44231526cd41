-- Finished deliveries are pruned after the retention period, oldest first.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (completed_at)
    WHERE status <> 'pending';
