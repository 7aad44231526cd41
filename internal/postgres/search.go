package postgres

import (
	"context"
	"encoding/base64"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Full-text search over conversations.
//
// Each conversation carries a tsvector (search_vector) that triggers keep:
// its customer's name and email (weight A) and every visible guest and
// agent message (weight D). A search is then one query on one table:
// PostgreSQL either reads the matching conversations off the GIN index and
// sorts them (rare words), or walks the workspace's sort index and checks
// each row (common words), and stops after one page. The total is a count
// that stops at SearchTotalCap.

// searchTSQuery is the text-search query of a search string: web-search
// syntax ("quoted phrase", OR, -word), words as written.
const searchTSQuery = "websearch_to_tsquery('simple', ?)"

// searchCursor is the position after the last row of a page.
type searchCursor struct {
	sort assistloop.ConversationSort
	asc  bool
	at   time.Time // the date sorts' key
	rank float32   // the relevance sort's key
	id   uuid.UUID
}

func (c searchCursor) encode() string {
	key := strconv.FormatInt(c.at.UnixMicro(), 10)
	if c.sort == assistloop.SortRelevance {
		key = strconv.FormatUint(uint64(math.Float32bits(c.rank)), 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(string(c.sort) + "|" + strconv.FormatBool(c.asc) + "|" + key + "|" + c.id.String()))
}

func decodeSearchCursor(s string, sort assistloop.ConversationSort, asc bool) (searchCursor, error) {
	bad := assistloop.InvalidField("cursor", "The cursor is malformed.")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return searchCursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 {
		return searchCursor{}, bad
	}
	if parts[0] != string(sort) || parts[1] != strconv.FormatBool(asc) {
		return searchCursor{}, assistloop.InvalidField("cursor", "The cursor belongs to a search with another sort.")
	}
	c := searchCursor{sort: sort, asc: asc}
	if c.id, err = uuid.Parse(parts[3]); err != nil {
		return searchCursor{}, bad
	}
	n, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return searchCursor{}, bad
	}
	if sort == assistloop.SortRelevance {
		if n > math.MaxUint32 {
			return searchCursor{}, bad
		}
		c.rank = math.Float32frombits(uint32(n))
	} else {
		c.at = time.UnixMicro(int64(n)).UTC()
	}
	return c, nil
}

// conversationColumns lists the conversation columns a model select reads.
func conversationColumns(db *bun.DB) []string {
	t := db.Table(reflect.TypeFor[assistloop.Conversation]())
	cols := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		cols[i] = f.Name
	}
	return cols
}

// SearchConversations returns a page of the workspace's live conversations
// matching the search.
func (s *ConversationsAPI) SearchConversations(ctx context.Context, f assistloop.ConversationSearch, first int, after string) (*assistloop.ConversationSearchPage, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.SortBy == "" {
		f.SortBy = assistloop.SortLastMessageDate
	}
	if first == 0 {
		first = assistloop.DefaultPageSize
	}
	if first < 1 || first > assistloop.MaxPageSize {
		return nil, assistloop.InvalidField("limit", "The limit must be between 1 and 100.")
	}
	var cur *searchCursor
	if after != "" {
		c, err := decodeSearchCursor(after, f.SortBy, f.Ascending)
		if err != nil {
			return nil, err
		}
		cur = &c
	}
	if err := findLocation(ctx, s.db.bun, p, f.OrganizationID); err != nil {
		return nil, wrap("search conversations", err)
	}
	query := strings.TrimSpace(f.Query)

	var cs []*assistloop.Conversation
	q := s.db.bun.NewSelect().Model(&cs).Column(conversationColumns(s.db.bun)...)
	q = searchFilters(q, f, query)
	dir := "DESC"
	cmp := "<"
	if f.Ascending {
		dir, cmp = "ASC", ">"
	}
	switch f.SortBy {
	case assistloop.SortRelevance:
		q = q.ColumnExpr("ts_rank(?TableAlias.search_vector, "+searchTSQuery+") AS search_rank", query)
		if cur != nil {
			q = q.Where("(ts_rank(?TableAlias.search_vector, "+searchTSQuery+"), ?TableAlias.id) "+cmp+" (?::real, ?)",
				query, strconv.FormatFloat(float64(cur.rank), 'g', -1, 32), cur.id)
		}
		q = q.OrderExpr("search_rank " + dir + ", ?TableAlias.id " + dir)
	default:
		col := "last_message_at"
		if f.SortBy == assistloop.SortDateAdded {
			col = "created_at"
		}
		if cur != nil {
			q = q.Where("(?TableAlias."+col+", ?TableAlias.id) "+cmp+" (?, ?)", cur.at, cur.id)
		}
		if f.StartAfter != nil {
			// The sort value of the last conversation seen, in
			// milliseconds: skip everything at or before it.
			ms := f.StartAfter.UTC().Truncate(time.Millisecond)
			if f.Ascending {
				q = q.Where("?TableAlias."+col+" >= ?", ms.Add(time.Millisecond))
			} else {
				q = q.Where("?TableAlias."+col+" < ?", ms)
			}
		}
		q = q.OrderExpr("?TableAlias." + col + " " + dir + ", ?TableAlias.id " + dir)
	}
	if err := q.Limit(first + 1).Scan(ctx); err != nil {
		return nil, wrap("search conversations", err)
	}
	page := &assistloop.ConversationSearchPage{Conversations: cs}
	if len(cs) > first {
		page.Conversations = cs[:first]
		last := page.Conversations[first-1]
		c := searchCursor{sort: f.SortBy, asc: f.Ascending, rank: last.SearchRank, id: last.ID, at: last.LastMessageAt}
		if f.SortBy == assistloop.SortDateAdded {
			c.at = last.CreatedAt
		}
		page.NextCursor = c.encode()
	}

	// The total ignores the page's position and stops counting at the cap.
	count := searchFilters(s.db.bun.NewSelect().Model((*assistloop.Conversation)(nil)).ColumnExpr("1"), f, query).
		Limit(assistloop.SearchTotalCap + 1)
	var n int
	if err := s.db.bun.NewSelect().TableExpr("(?) AS matches", count).ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
		return nil, wrap("count conversations", err)
	}
	page.Total, page.TotalCapped = min(n, assistloop.SearchTotalCap), n > assistloop.SearchTotalCap
	return page, nil
}

// searchFilters adds the search's conditions (not its position) to q, a
// query on conversations.
func searchFilters(q *bun.SelectQuery, f assistloop.ConversationSearch, query string) *bun.SelectQuery {
	q = q.Where("?TableAlias.organization_id = ?", f.OrganizationID).Where("?TableAlias.deleted_at IS NULL")
	if query != "" {
		q = q.Where("?TableAlias.search_vector @@ "+searchTSQuery, query)
	}
	if f.ChatUserID != nil {
		q = q.Where("?TableAlias.chat_user_id = ?", *f.ChatUserID)
	}
	if f.AgentID != nil {
		q = q.Where("?TableAlias.agent_id = ?", *f.AgentID)
	}
	if f.ConversationID != nil {
		q = q.Where("?TableAlias.id = ?", *f.ConversationID)
	}
	switch {
	case len(f.AssignedTo) > 0 && f.Unassigned:
		q = q.Where("(?TableAlias.assigned_to IN (?) OR ?TableAlias.assigned_to IS NULL)", bun.In(f.AssignedTo))
	case len(f.AssignedTo) > 0:
		q = q.Where("?TableAlias.assigned_to IN (?)", bun.In(f.AssignedTo))
	case f.Unassigned:
		q = q.Where("?TableAlias.assigned_to IS NULL")
	}
	if f.Status != nil {
		q = q.Where("?TableAlias.status = ?", *f.Status)
	}
	if f.ResponseMode != nil {
		q = q.Where("?TableAlias.response_mode = ?", *f.ResponseMode)
	}
	switch f.ReadState {
	case assistloop.ReadStateRead:
		q = q.Where("?TableAlias.unread_count = 0")
	case assistloop.ReadStateUnread:
		q = q.Where("?TableAlias.unread_count > 0")
	case assistloop.ReadStateStarred:
		q = q.Where("?TableAlias.starred")
	}
	if f.CreatedFrom != nil {
		q = q.Where("?TableAlias.created_at >= ?", *f.CreatedFrom)
	}
	if f.CreatedTo != nil {
		q = q.Where("?TableAlias.created_at <= ?", *f.CreatedTo)
	}
	return q
}
