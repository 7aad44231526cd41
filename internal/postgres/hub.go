package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Notification channels. A notification is only a wake-up: the tables are
// the truth, so a notification lost while the listener reconnects costs
// latency (the streams also poll), never data.
const (
	channelEvents   = "assistloop_events"   // payload: empty
	channelMessages = "assistloop_messages" // payload: conversation uuid
	// channelDeliveries wakes the webhook delivery workers of every
	// instance when deliveries become due. Payload: empty.
	channelDeliveries = "assistloop_deliveries"
)

// Hub multiplexes one LISTEN connection to every live stream of this
// process.
type Hub struct {
	db  *bun.DB
	log *slog.Logger

	mu         sync.Mutex
	events     map[*waiter]struct{}
	messages   map[uuid.UUID]map[*waiter]struct{}
	deliveries map[*waiter]struct{}
	// scheduler wakes this process's message scheduler when a message is
	// scheduled here (other instances find it on their next poll).
	scheduler map[*waiter]struct{}
	started   bool
}

// waiter is woken by notifications. Its channel has room for one signal, so
// a burst of notifications coalesces into one wake-up.
type waiter struct{ c chan struct{} }

func newWaiter() *waiter { return &waiter{c: make(chan struct{}, 1)} }

func (w *waiter) wake() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

func newHub(db *bun.DB, log *slog.Logger) *Hub {
	return &Hub{db: db, log: log, events: map[*waiter]struct{}{}, messages: map[uuid.UUID]map[*waiter]struct{}{},
		deliveries: map[*waiter]struct{}{}, scheduler: map[*waiter]struct{}{}}
}

func (h *Hub) start(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return nil
	}
	h.started = true
	h.mu.Unlock()

	ln := pgdriver.NewListener(h.db)
	if err := ln.Listen(ctx, channelEvents, channelMessages, channelDeliveries); err != nil {
		_ = ln.Close()
		return fmt.Errorf("postgres: listen: %w", err)
	}
	ch := ln.Channel(pgdriver.WithChannelSize(4096))
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	go func() {
		for n := range ch {
			h.dispatch(n)
		}
	}()
	return nil
}

func (h *Hub) dispatch(n pgdriver.Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch n.Channel {
	case channelEvents:
		for w := range h.events {
			w.wake()
		}
	case channelMessages:
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			h.log.Warn("ignoring malformed notification", "channel", n.Channel)
			return
		}
		for w := range h.messages[id] {
			w.wake()
		}
	case channelDeliveries:
		for w := range h.deliveries {
			w.wake()
		}
	}
}

// wakeDeliveries wakes this process's delivery workers at once, without
// waiting for the notification's round trip through the database.
func (h *Hub) wakeDeliveries() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.deliveries {
		w.wake()
	}
}

// wakeScheduler wakes this process's message schedulers.
func (h *Hub) wakeScheduler() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.scheduler {
		w.wake()
	}
}

// subscribeScheduler returns a waiter woken when a message is scheduled in
// this process, and a function that unregisters it.
func (h *Hub) subscribeScheduler() (*waiter, func()) {
	w := newWaiter()
	h.mu.Lock()
	h.scheduler[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(h.scheduler, w)
		h.mu.Unlock()
	}
}

// subscribeDeliveries returns a waiter woken when deliveries become due,
// and a function that unregisters it.
func (h *Hub) subscribeDeliveries() (*waiter, func()) {
	w := newWaiter()
	h.mu.Lock()
	h.deliveries[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(h.deliveries, w)
		h.mu.Unlock()
	}
}

// subscribeEvents returns a waiter woken when events commit, and a function
// that unregisters it.
func (h *Hub) subscribeEvents() (*waiter, func()) {
	w := newWaiter()
	h.mu.Lock()
	h.events[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(h.events, w)
		h.mu.Unlock()
	}
}

// subscribeMessages returns a waiter woken when messages of the conversation
// commit, and a function that unregisters it.
func (h *Hub) subscribeMessages(conversationID uuid.UUID) (*waiter, func()) {
	w := newWaiter()
	h.mu.Lock()
	set := h.messages[conversationID]
	if set == nil {
		set = map[*waiter]struct{}{}
		h.messages[conversationID] = set
	}
	set[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(set, w)
		if len(set) == 0 {
			delete(h.messages, conversationID)
		}
		h.mu.Unlock()
	}
}

// notify queues a notification in the transaction; PostgreSQL delivers it
// only if and when the transaction commits.
func notify(ctx context.Context, idb bun.IDB, channel, payload string) error {
	_, err := idb.NewRaw("SELECT pg_notify(?, ?)", channel, payload).Exec(ctx)
	return err
}
