package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Executor runs GraphQL operations in-process; *executor.Executor (see
// graph.NewExecutor) implements it.
type Executor interface {
	CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List)
	DispatchOperation(ctx context.Context, opCtx *graphql.OperationContext) (graphql.ResponseHandler, context.Context)
}

// fanOutOperation is the subscription the fan-out consumes: the same
// durable event stream any GraphQL client gets, seen by the system
// principal (every workspace).
const fanOutOperation = `subscription WebhookFanOut($after: ID) { events(after: $after) { id } }`

// errCursorGone reports that the cursor's event no longer exists (its
// workspace was deleted), so the stream cannot resume after it.
var errCursorGone = errors.New("webhook: the fan-out cursor's event no longer exists")

// RunFanOut runs the fan-out worker, as the system principal, until ctx
// ends. Only one process per database fans out at a time; the
// others wait as standbys.
func (e *Engine) RunFanOut(ctx context.Context) {
	ctx = assistloop.NewSystemContext(ctx)
	fromStart := false
	for ctx.Err() == nil {
		release, err := e.queue.LockFanOut(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("webhook fan-out: taking the lock failed", "err", err)
				sleep(ctx, e.opts.RestartDelay)
			}
			continue
		}
		err = e.fanOut(ctx, fromStart)
		release()
		fromStart = false
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, errCursorGone):
			// Replaying from the oldest event is safe: existing deliveries
			// are skipped, and subscriptions only get events after their
			// creation.
			e.log.Warn("webhook fan-out: cursor event deleted; replaying from the oldest event")
			fromStart = true
		default:
			e.log.Error("webhook fan-out stopped; restarting", "err", err)
			sleep(ctx, e.opts.RestartDelay)
		}
	}
}

// fanOut streams events after the cursor and creates their deliveries in
// batches until ctx ends or something fails.
func (e *Engine) fanOut(ctx context.Context, fromStart bool) error {
	cursor, err := e.queue.FanOutCursor(ctx, e.opts.CursorName)
	if err != nil {
		return err
	}
	if fromStart {
		cursor = nil
	}
	ctx, cancel := context.WithCancel(ctx)
	events := make(chan uuid.UUID, e.opts.FanOutBatch)
	errc := make(chan error, 1)
	go func() { errc <- e.stream(ctx, cursor, events) }()
	streaming := true
	defer func() {
		cancel()
		if streaming {
			<-errc // leave no goroutine behind
		}
	}()

	batch := make([]uuid.UUID, 0, e.opts.FanOutBatch)
	for {
		var id uuid.UUID
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			streaming = false
			return err
		case id = <-events:
		}
		batch = append(batch[:0], id)
	drain:
		for len(batch) < cap(batch) {
			select {
			case id := <-events:
				batch = append(batch, id)
			default:
				break drain
			}
		}
		if _, err := e.queue.FanOut(ctx, e.opts.CursorName, batch); err != nil {
			return fmt.Errorf("fan out: %w", err)
		}
	}
}

// stream runs the events subscription after cursor and sends each event id
// to out, until ctx ends or the stream fails.
func (e *Engine) stream(ctx context.Context, cursor *uuid.UUID, out chan<- uuid.UUID) error {
	vars := map[string]any{"after": nil}
	if cursor != nil {
		vars["after"] = cursor.String()
	}
	ctx = graphql.StartOperationTrace(ctx)
	now := graphql.Now()
	opCtx, errs := e.exec.CreateOperationContext(ctx, &graphql.RawParams{
		Query: fanOutOperation, OperationName: "WebhookFanOut", Variables: vars,
		ReadTime: graphql.TraceTiming{Start: now, End: now},
	})
	if errs != nil {
		return fmt.Errorf("events subscription: %w", errs)
	}
	next, ctx := e.exec.DispatchOperation(ctx, opCtx)
	for {
		resp := next(ctx)
		if resp == nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.New("events subscription ended")
		}
		if len(resp.Errors) > 0 {
			if cursor != nil && hasCode(resp.Errors, "NOT_FOUND") {
				return errCursorGone
			}
			return fmt.Errorf("events subscription: %w", resp.Errors)
		}
		var data struct {
			Events struct {
				ID uuid.UUID `json:"id"`
			} `json:"events"`
		}
		if err := json.Unmarshal(resp.Data, &data); err != nil {
			return fmt.Errorf("events subscription: decoding %s: %w", strings.TrimSpace(string(resp.Data)), err)
		}
		select {
		case out <- data.Events.ID:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func hasCode(errs gqlerror.List, code string) bool {
	for _, e := range errs {
		if c, _ := e.Extensions["code"].(string); c == code {
			return true
		}
	}
	return false
}
