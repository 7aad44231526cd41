package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// loadConversations bulk-inserts n conversations for the workspace's agent,
// one per second going back from now, a quarter in each status × mode
// combination, one chat user per ten conversations.
func loadConversations(tb testing.TB, s *services, w *workspace, n int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO chat_users (id, organization_id, name, email, country_code, created_at)
		SELECT 'chu_b' || ? || '_' || i, ?, 'Customer ' || i, 'c' || i || '@example.com', 'US', now()
		FROM generate_series(0, ? / 10) AS i`, w.agent.ID, w.org.ID, n)
	if err != nil {
		tb.Fatal(err)
	}
	// In batches: one statement must finish within the driver's timeout.
	for lo := 1; lo <= n; lo += 50_000 {
		_, err = s.db.ExecContext(ctx, `
			INSERT INTO conversations (id, organization_id, agent_id, chat_user_id, session_id, response_mode, status, created_at, updated_at)
			SELECT gen_random_uuid(), ?, ?, 'chu_b' || ? || '_' || (i / 10), 'sess_' || i,
				CASE WHEN i % 4 < 2 THEN 'ai' ELSE 'human' END,
				CASE WHEN i % 2 = 0 THEN 'open' ELSE 'closed' END,
				now() - make_interval(secs => i), now() - make_interval(secs => i)
			FROM generate_series(?::int, ?::int) AS i`, w.org.ID, w.agent.ID, w.agent.ID, lo, min(lo+50_000-1, n))
		if err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, "ANALYZE conversations; ANALYZE chat_users"); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("loaded %d conversations in %v", n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkListConversations lists a page of 100 of one agent's
// conversations, unfiltered and with every filter, at 10,000 and at
// 1,000,000 conversations for that agent. The two sizes should cost about
// the same: every filter shape reads one page off an index.
// BENCH_CONVERSATIONS overrides the large size.
func BenchmarkListConversations(b *testing.B) {
	large := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_CONVERSATIONS")); err == nil && v > 0 {
		large = v
	}
	s := newServices(b)
	open, human := assistloop.ConversationOpen, assistloop.ResponseModeHuman
	for _, n := range []int{10_000, large} {
		w := s.newWorkspace(b, fmt.Sprintf("bench%d", n))
		loadConversations(b, s, w, n)
		from := time.Now().Add(-time.Duration(n/2) * time.Second)
		to := time.Now().Add(-time.Duration(n/4) * time.Second)
		filters := []struct {
			name string
			f    assistloop.ConversationFilter
		}{
			{"all", assistloop.ConversationFilter{}},
			{"open", assistloop.ConversationFilter{Status: &open}},
			{"open+human", assistloop.ConversationFilter{Status: &open, ResponseMode: &human}},
			{"human+range", assistloop.ConversationFilter{ResponseMode: &human, CreatedFrom: &from, CreatedTo: &to}},
		}
		for _, f := range filters {
			f.f.AgentID = w.agent.ID
			b.Run(fmt.Sprintf("%s/rows=%d", f.name, n), func(b *testing.B) {
				for b.Loop() {
					page, err := s.conversations.ListConversations(w.ctx, f.f, assistloop.Page{First: 100})
					if err != nil || len(page.Conversations) != 100 {
						b.Fatal(len(page.Conversations), err)
					}
				}
			})
		}
		// Deep keyset paging costs the same as the first page.
		b.Run(fmt.Sprintf("page50/rows=%d", n), func(b *testing.B) {
			f := assistloop.ConversationFilter{AgentID: w.agent.ID}
			page, err := s.conversations.ListConversations(w.ctx, f, assistloop.Page{First: 100, Offset: 5000})
			if err != nil {
				b.Fatal(err)
			}
			after := page.PageInfo.EndCursor
			for b.Loop() {
				if _, err := s.conversations.ListConversations(w.ctx, f, assistloop.Page{First: 100, After: after}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
