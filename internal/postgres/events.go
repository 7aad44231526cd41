package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// EventService implements assistloop.EventService.
type EventService struct {
	db *DB
	// IdlePoll bounds the delay when a notification is lost; BlockedPoll is
	// the retry delay while committed events wait behind an older running
	// transaction (see the events table's comment).
	IdlePoll    time.Duration
	BlockedPoll time.Duration
	BatchSize   int
}

// NewEventService returns the event service over db.
func NewEventService(db *DB) *EventService {
	return &EventService{db: db, IdlePoll: 2 * time.Second, BlockedPoll: 10 * time.Millisecond, BatchSize: 256}
}

var _ assistloop.EventService = (*EventService)(nil)

// streamPosition is a position in the outbox's commit order.
type streamPosition struct {
	TxID string // xid8, as text
	Seq  int64
}

// eventRow is an event with its position.
type eventRow struct {
	assistloop.Event
	TxID string `bun:"txid"`
}

// FindEvent returns an event of the caller's workspaces.
func (s *EventService) FindEvent(ctx context.Context, id uuid.UUID) (*assistloop.Event, error) {
	row, err := s.find(ctx, id)
	if err != nil {
		return nil, err
	}
	return &row.Event, nil
}

// EventsByIDs returns the caller's events among ids.
func (s *EventService) EventsByIDs(ctx context.Context, ids []uuid.UUID) ([]*assistloop.Event, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var events []*assistloop.Event
	q := s.db.bun.NewSelect().Model(&events).Where("?TableAlias.id IN (?)", bun.In(ids))
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("events by ids", err)
	}
	return events, nil
}

func (s *EventService) find(ctx context.Context, id uuid.UUID) (*eventRow, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	row := new(eventRow)
	q := s.db.bun.NewSelect().Model(row).ModelTableExpr("events AS event_row").
		ColumnExpr("event_row.*").Where("event_row.id = ?", id)
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("find event", notFound("Event", err))
	}
	return row, nil
}

// StreamEvents sends the caller's events in commit order, after the event
// named by after (or from the oldest), then each new one as it commits.
func (s *EventService) StreamEvents(ctx context.Context, after *uuid.UUID, types []assistloop.EventType) (<-chan *assistloop.Event, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if !t.Valid() {
			return nil, assistloop.InvalidField("types", "The selected type is invalid.")
		}
	}
	pos := streamPosition{TxID: "0"}
	if after != nil {
		row, err := s.find(ctx, *after)
		if err != nil {
			return nil, err
		}
		pos = streamPosition{TxID: row.TxID, Seq: row.Seq}
	}
	w, stop := s.db.hub.subscribeEvents()
	out := make(chan *assistloop.Event)
	go func() {
		defer close(out)
		defer stop()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.c:
			case <-timer.C:
			}
			rows, blocked, err := s.next(ctx, p, pos, types)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.db.log.Error("event stream query failed", "err", err)
				timer.Reset(s.IdlePoll)
				continue
			}
			for _, r := range rows {
				select {
				case out <- &r.Event:
					pos = streamPosition{TxID: r.TxID, Seq: r.Seq}
				case <-ctx.Done():
					return
				}
			}
			switch {
			case len(rows) == s.BatchSize:
				timer.Reset(0)
			case blocked:
				timer.Reset(s.BlockedPoll)
			default:
				timer.Reset(s.IdlePoll)
			}
		}
	}()
	return out, nil
}

// next reads the batch of events after pos that are safe to hand out: those
// of transactions older than every transaction still running (the
// statement's own snapshot decides which those are). blocked reports that
// further events exist but are not safe yet.
func (s *EventService) next(ctx context.Context, p *assistloop.Principal, pos streamPosition, types []assistloop.EventType) (rows []*eventRow, blocked bool, err error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.ModelTableExpr("events AS event_row").Where("(event_row.txid, event_row.seq) > (?::xid8, ?)", pos.TxID, pos.Seq)
		if len(types) > 0 {
			q = q.Where("event_row.type IN (?)", bun.In(types))
		}
		return visibleTo(q, p, "organization_id")
	}
	err = filter(s.db.bun.NewSelect().Model(&rows).ColumnExpr("event_row.*")).
		Where("event_row.txid < pg_snapshot_xmin(pg_current_snapshot())").
		OrderExpr("event_row.txid, event_row.seq").Limit(s.BatchSize).Scan(ctx)
	if err != nil || len(rows) == s.BatchSize {
		return rows, false, err
	}
	blocked, err = filter(s.db.bun.NewSelect().Model((*eventRow)(nil))).
		Where("event_row.txid >= pg_snapshot_xmin(pg_current_snapshot())").Exists(ctx)
	return rows, blocked, err
}

// RecentEvents returns the agent's latest events of type t, newest first.
func (s *EventService) RecentEvents(ctx context.Context, agentID string, t assistloop.EventType, limit int) ([]*assistloop.Event, error) {
	if _, err := NewAgentService(s.db).FindAgent(ctx, agentID); err != nil {
		return nil, err
	}
	v := assistloop.Invalid()
	if !t.Valid() {
		v.Add("type", "The selected type is invalid.")
	}
	if limit < 1 {
		v.Add("limit", "The limit must be at least 1.")
	} else if limit > assistloop.MaxSampleLimit {
		v.Add("limit", "The limit may not be greater than 10.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var events []*assistloop.Event
	err := s.db.bun.NewSelect().Model(&events).
		Where("agent_id = ?", agentID).Where("type = ?", t).
		// A deleted conversation is gone from every Make route, samples too.
		Where("NOT EXISTS (SELECT 1 FROM conversations AS c WHERE c.id = ?TableAlias.conversation_id AND c.deleted_at IS NOT NULL)").
		OrderExpr("created_at DESC, seq DESC").Limit(limit).Scan(ctx)
	if err != nil {
		return nil, wrap("recent events", err)
	}
	return events, nil
}
