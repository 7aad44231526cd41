package postgres_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/postgres"
)

// searchVocabulary is what benchmark messages are made of: a few real
// words that occur everywhere (the first is the most common) and many
// synthetic ones of decreasing frequency.
func searchVocabulary() []string {
	words := strings.Fields(`order help please thanks refund kettle delivery broken parcel invoice account password
		login shipping address payment card return exchange warranty question agent human urgent tomorrow today`)
	for i := len(words); i < 2000; i++ {
		words = append(words, "term"+strconv.Itoa(i))
	}
	return words
}

// loadSearchMessages loads messages messages into conversations of 50
// messages each, for one workspace: every message 8 to 12 words drawn
// with a skewed distribution (a power law: the first words are in most
// conversations, the last in few) and one rare token "refN" (N up to
// 1,000,000). The search triggers are bypassed while loading and the
// conversations' vectors built afterwards in bulk, exactly as the
// triggers would have built them.
func loadSearchMessages(tb testing.TB, s *services, w *workspace, messages int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	conversations := messages / 50
	exec := func(q string, args ...any) {
		tb.Helper()
		if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
			tb.Fatal(err)
		}
	}
	exec(`INSERT INTO chat_users (id, organization_id, name, email, created_at)
		SELECT 'chu_s' || i, ?, 'Customer ' || i, 'customer' || i || '@example.com', now()
		FROM generate_series(0, ?) AS i`, w.org.ID, conversations-1)
	for lo := 0; lo < conversations; lo += 10_000 {
		exec(`INSERT INTO conversations (id, organization_id, agent_id, chat_user_id, session_id, response_mode, status,
				unread_count, starred, created_at, updated_at)
			SELECT md5('conv' || i)::uuid, ?, ?, 'chu_s' || i, 'sess_s' || i,
				CASE WHEN i % 4 = 0 THEN 'human' ELSE 'ai' END, CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END,
				i % 2, i % 10 = 0,
				now() - make_interval(hours => 24 * 365) + make_interval(secs => i * 60), now()
			FROM generate_series(?::int, ?::int) AS i`, w.org.ID, w.agent.ID, lo, min(lo+10_000, conversations)-1)
	}
	exec("ALTER TABLE messages DISABLE TRIGGER messages_search_insert")
	defer exec("ALTER TABLE messages ENABLE TRIGGER messages_search_insert")
	vocab := searchVocabulary()
	for lo := 0; lo < messages; lo += 50_000 {
		exec(`INSERT INTO messages (id, conversation_id, organization_id, type, responder_type, content, channel, created_at)
			SELECT gen_random_uuid(), md5('conv' || (j / 50))::uuid, ?,
				CASE WHEN j % 2 = 0 THEN 'guest' ELSE 'agent' END, CASE WHEN j % 2 = 1 THEN 'ai' END,
				(SELECT string_agg(v[1 + floor(power(random(), 3) * array_length(v, 1))::int + 0 * k], ' ')
				 FROM generate_series(1, 8 + j % 5) AS k WHERE k > 0 AND j >= 0) || ' ref' || floor(random() * 1000000)::int,
				'live_chat',
				now() - make_interval(hours => 24 * 365) + make_interval(secs => (j / 50) * 60 + j % 50)
			FROM generate_series(?::int, ?::int) AS j, (SELECT ?::text[] AS v) AS vocab`,
			w.org.ID, lo, min(lo+50_000, messages)-1, pgdialect.Array(vocab))
	}
	// What the triggers would have done: each conversation's words and
	// its last message (the newest one, and its time).
	for lo := 0; lo < conversations; lo += 2_000 {
		exec(`UPDATE conversations AS c SET
				search_vector = c.search_vector || to_tsvector('simple', m.words),
				last_message_at = m.last, last_message_id = m.last_id
			FROM (SELECT conversation_id, string_agg(content, ' ' ORDER BY created_at) AS words, max(created_at) AS last,
					(array_agg(id ORDER BY created_at DESC))[1] AS last_id
				FROM messages WHERE conversation_id IN (SELECT md5('conv' || i)::uuid FROM generate_series(?::int, ?::int) AS i)
				GROUP BY conversation_id) AS m
			WHERE c.id = m.conversation_id`, lo, min(lo+2_000, conversations)-1)
	}
	exec("VACUUM ANALYZE conversations")
	exec("ANALYZE messages")
	tb.Logf("loaded %d messages in %d conversations in %v", messages, conversations, time.Since(start).Round(time.Second))
}

// BenchmarkSearchConversations searches one workspace holding 1,000,000
// messages (20,000 conversations): browsing, a word in nearly every
// conversation, a word in a few percent, a token in one, two words,
// relevance ordering of the most common word, a customer's name, a filter
// with a common word, and the next page by cursor. Each reports the page
// and the capped total together, as the REST route returns them.
// BENCH_SEARCH_MESSAGES overrides the size.
func BenchmarkSearchConversations(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_SEARCH_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	s := newServices(b)
	w := s.newWorkspace(b, "searchbench")
	loadSearchMessages(b, s, w, n)
	api := postgres.NewConversationsAPI(s.store)
	var rare string
	if err := s.db.NewRaw("SELECT substring(content from 'ref[0-9]+') FROM messages WHERE organization_id = ? LIMIT 1", w.org.ID).
		Scan(context.Background(), &rare); err != nil {
		b.Fatal(err)
	}
	first, err := api.SearchConversations(w.ctx, assistloop.ConversationSearch{OrganizationID: w.org.ID, Query: "order"}, 20, "")
	if err != nil {
		b.Fatal(err)
	}
	unread := assistloop.ReadStateUnread
	cases := []struct {
		name  string
		s     assistloop.ConversationSearch
		after string
	}{
		{"browse", assistloop.ConversationSearch{}, ""},
		{"common word", assistloop.ConversationSearch{Query: "order"}, ""},
		{"common word, next page", assistloop.ConversationSearch{Query: "order"}, first.NextCursor},
		{"medium word", assistloop.ConversationSearch{Query: "term60"}, ""},
		{"rare word", assistloop.ConversationSearch{Query: "term1900"}, ""},
		{"unique token", assistloop.ConversationSearch{Query: rare}, ""},
		{"two words", assistloop.ConversationSearch{Query: "refund term300"}, ""},
		{"customer name", assistloop.ConversationSearch{Query: "customer 12345"}, ""},
		{"relevance, common word", assistloop.ConversationSearch{Query: "order", SortBy: assistloop.SortRelevance}, ""},
		{"relevance, medium word", assistloop.ConversationSearch{Query: "term60", SortBy: assistloop.SortRelevance}, ""},
		{"unread, common word", assistloop.ConversationSearch{Query: "kettle", ReadState: unread}, ""},
	}
	for _, c := range cases {
		c.s.OrganizationID = w.org.ID
		page, err := api.SearchConversations(w.ctx, c.s, 20, c.after)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := api.SearchConversations(w.ctx, c.s, 20, c.after); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(page.Total), "matches")
		})
	}
}
