package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/postgres"
)

// subscribe creates an active subscription of the fixture's agent.
func (f *fixture) subscribe(t *testing.T, event assistloop.EventType) *assistloop.WebhookSubscription {
	t.Helper()
	sub, err := postgres.NewWebhookService(f.db, nil).SubscribeWebhook(f.userCtx, assistloop.SubscribeWebhookInput{
		OrganizationID: &f.org.ID, AgentID: &f.agent.ID, TargetURL: ptr("https://hook.example/" + assistloop.RandomString(8)),
		Event: ptr(string(event)), Platform: ptr("make"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// eventIDs returns the fixture's events in stream order.
func (f *fixture) eventIDs(t *testing.T) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	if err := f.db.Bun().NewRaw("SELECT id FROM events WHERE organization_id = ? ORDER BY txid, seq", f.org.ID).Scan(f.sysCtx, &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestFanOut(t *testing.T) {
	f := newFixture(t)
	q := postgres.NewDeliveryQueue(f.db)
	f.startConversation(t) // before any subscription: delivered to none
	subA := f.subscribe(t, assistloop.EventNewConversation)
	subB := f.subscribe(t, assistloop.EventNewConversation)
	f.subscribe(t, assistloop.EventHumanHandoffRequired)
	f.startConversation(t)
	f.startConversation(t)
	ids := f.eventIDs(t)
	if len(ids) != 3 {
		t.Fatalf("%d events", len(ids))
	}

	n, err := q.FanOut(f.sysCtx, "test", ids)
	if err != nil {
		t.Fatal(err)
	}
	// Two new conversations after the subscriptions, two matching
	// subscriptions each; the earlier event predates them.
	if n != 4 {
		t.Errorf("fan-out created %d deliveries, want 4", n)
	}
	if n, err := q.FanOut(f.sysCtx, "test", ids); err != nil || n != 0 {
		t.Errorf("replaying the fan-out created %d deliveries (%v), want 0", n, err)
	}
	cursor, err := q.FanOutCursor(f.sysCtx, "test")
	if err != nil || cursor == nil || *cursor != ids[2] {
		t.Errorf("cursor %v (%v), want %s", cursor, err, ids[2])
	}
	if c, err := q.FanOutCursor(f.sysCtx, "never-used"); err != nil || c != nil {
		t.Errorf("unused cursor %v, %v", c, err)
	}
	for _, sub := range []*assistloop.WebhookSubscription{subA, subB} {
		page, err := postgres.NewWebhookService(f.db, nil).ListWebhookDeliveries(f.userCtx, assistloop.DeliveryFilter{SubscriptionID: sub.ID}, assistloop.Page{})
		if err != nil || len(page.Deliveries) != 2 {
			t.Errorf("subscription %s: %d deliveries (%v), want 2", sub.ID, len(page.Deliveries), err)
		}
	}
}

// TestDeliveryQueueSystemOnly: no user principal, whatever its scopes,
// operates the queue.
func TestDeliveryQueueSystemOnly(t *testing.T) {
	f := newFixture(t)
	q := postgres.NewDeliveryQueue(f.db)
	if _, err := q.ClaimDeliveries(f.userCtx, 10, time.Minute); assistloop.ErrorCode(err) != assistloop.EFORBIDDEN {
		t.Errorf("claim as a user: %v, want EFORBIDDEN", err)
	}
	if _, err := q.FanOut(f.userCtx, "x", []uuid.UUID{uuid.New()}); assistloop.ErrorCode(err) != assistloop.EFORBIDDEN {
		t.Errorf("fan out as a user: %v, want EFORBIDDEN", err)
	}
	if _, err := q.ClaimDeliveries(context.Background(), 10, time.Minute); assistloop.ErrorCode(err) != assistloop.EUNAUTHORIZED {
		t.Errorf("claim without a principal: %v, want EUNAUTHORIZED", err)
	}
}

// TestClaimDeliveriesConcurrently: claimers racing on one queue never get
// the same delivery.
func TestClaimDeliveriesConcurrently(t *testing.T) {
	f := newFixture(t)
	q := postgres.NewDeliveryQueue(f.db)
	mine := map[string]bool{}
	for i := 0; i < 10; i++ {
		mine[f.subscribe(t, assistloop.EventNewConversation).ID] = true
	}
	for i := 0; i < 20; i++ {
		f.startConversation(t)
	}
	if n, err := q.FanOut(f.sysCtx, "test", f.eventIDs(t)); err != nil || n != 200 {
		t.Fatalf("fan-out: %d, %v", n, err)
	}
	var (
		mu      sync.Mutex
		claimed = map[uuid.UUID]int{}
		wg      sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				jobs, err := q.ClaimDeliveries(f.sysCtx, 7, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					if !mine[j.SubscriptionID] {
						continue // another test's leftover
					}
					claimed[j.DeliveryID]++
					if j.Attempt != 1 || j.Retry != 1 || len(j.Payload) == 0 || j.Secret == "" {
						t.Errorf("job %+v", j)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 200 {
		t.Errorf("%d deliveries claimed, want 200", len(claimed))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}

// TestLostLease: a worker whose lease ran out may still finish its attempt,
// but its result changes nothing; the worker holding the lease decides.
func TestLostLease(t *testing.T) {
	f := newFixture(t)
	q := postgres.NewDeliveryQueue(f.db)
	f.subscribe(t, assistloop.EventNewConversation)
	f.startConversation(t)
	if _, err := q.FanOut(f.sysCtx, "test", f.eventIDs(t)); err != nil {
		t.Fatal(err)
	}
	first, err := q.ClaimDeliveries(f.sysCtx, 10, 50*time.Millisecond)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %d, %v", len(first), err)
	}
	if again, _ := q.ClaimDeliveries(f.sysCtx, 10, time.Minute); len(again) != 0 {
		t.Fatal("a leased delivery was claimed again")
	}
	time.Sleep(100 * time.Millisecond)
	second, err := q.ClaimDeliveries(f.sysCtx, 10, time.Minute)
	if err != nil || len(second) != 1 || second[0].DeliveryID != first[0].DeliveryID || second[0].LeaseToken == first[0].LeaseToken {
		t.Fatalf("claim after the lease ran out: %+v, %v", second, err)
	}
	now := time.Now()
	// The first worker's late failure must not reschedule the delivery…
	if err := q.RecordAttempts(f.sysCtx, []*assistloop.AttemptResult{{Job: first[0], AttemptedAt: now, StatusCode: 500,
		Error: "HTTP 500", Outcome: assistloop.OutcomeRetry, Delay: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	// …while the second worker's success completes it.
	if err := q.RecordAttempts(f.sysCtx, []*assistloop.AttemptResult{{Job: second[0], AttemptedAt: now, StatusCode: 200,
		Outcome: assistloop.OutcomeSucceeded}}); err != nil {
		t.Fatal(err)
	}
	svc := postgres.NewWebhookService(f.db, nil)
	d, err := svc.FindWebhookDelivery(f.userCtx, first[0].DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != assistloop.DeliverySucceeded || d.Attempts != 1 || d.NextAttemptAt != nil {
		t.Errorf("delivery %+v, want succeeded after attempt 1", d)
	}
	attempts, err := svc.AttemptsByDeliveryIDs(f.userCtx, []uuid.UUID{d.ID})
	if err != nil || len(attempts) != 2 {
		t.Errorf("%d attempts recorded (%v), want both", len(attempts), err)
	}
	if wait, ok, err := q.NextDue(f.sysCtx); err != nil || (ok && wait < time.Hour/2) {
		t.Errorf("next due in %v (%v, %v): the lost lease rescheduled the delivery", wait, ok, err)
	}
}

// TestReleaseDeliveries: a released lease makes the delivery due at once,
// with the same attempt number.
func TestReleaseDeliveries(t *testing.T) {
	f := newFixture(t)
	q := postgres.NewDeliveryQueue(f.db)
	f.subscribe(t, assistloop.EventNewConversation)
	f.startConversation(t)
	if _, err := q.FanOut(f.sysCtx, "test", f.eventIDs(t)); err != nil {
		t.Fatal(err)
	}
	jobs, err := q.ClaimDeliveries(f.sysCtx, 10, time.Hour)
	if err != nil || len(jobs) != 1 {
		t.Fatal(len(jobs), err)
	}
	if err := q.ReleaseDeliveries(f.sysCtx, jobs); err != nil {
		t.Fatal(err)
	}
	again, err := q.ClaimDeliveries(f.sysCtx, 10, time.Hour)
	if err != nil || len(again) != 1 || again[0].Attempt != 1 {
		t.Fatalf("after release: %+v, %v", again, err)
	}
}
