package postgres

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// A keyset cursor names the last row of a window by its sort key
// (created_at, id); lists are sorted newest first on that key.
type cursor struct {
	CreatedAt time.Time
	ID        string
}

func encodeCursor(createdAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt.UnixMicro(), 10) + ":" + id))
}

func decodeCursor(s string) (cursor, error) {
	bad := assistloop.InvalidField("after", "The cursor is malformed.")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	micros, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return cursor{}, bad
	}
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return cursor{}, bad
	}
	return cursor{CreatedAt: time.UnixMicro(n).UTC(), ID: id}, nil
}

// normalizePage applies the default and maximum page size and rejects
// nonsense.
func normalizePage(p assistloop.Page) (assistloop.Page, error) {
	v := assistloop.Invalid()
	if p.First == 0 {
		p.First = assistloop.DefaultPageSize
	}
	if p.First < 1 || p.First > assistloop.MaxPageSize {
		v.Add("first", "The first must be between 1 and 100.")
	}
	if p.Offset < 0 {
		v.Add("offset", "The offset must be at least 0.")
	}
	if p.Offset > 0 && p.After != "" {
		v.Add("offset", "The offset cannot be combined with after.")
	}
	return p, v.Err()
}

// applyKeyset adds the window of page to q, whose model table has created_at
// and id columns (uuid ids when uuidIDs); it
// fetches one row more than asked so the caller can tell whether a next page
// exists.
func applyKeyset(q *bun.SelectQuery, page assistloop.Page, uuidIDs bool) (*bun.SelectQuery, error) {
	if page.After != "" {
		c, err := decodeCursor(page.After)
		if err != nil {
			return nil, err
		}
		if _, ok := assistloop.ParseUUID(c.ID); uuidIDs && !ok {
			return nil, assistloop.InvalidField("after", "The cursor is malformed.")
		}
		q = q.Where("(?TableAlias.created_at, ?TableAlias.id) < (?, ?)", c.CreatedAt, c.ID)
	}
	q = q.OrderExpr("?TableAlias.created_at DESC, ?TableAlias.id DESC").Limit(page.First + 1)
	if page.Offset > 0 {
		q = q.Offset(page.Offset)
	}
	return q, nil
}

// window trims the extra row applyKeyset fetched and computes cursors and
// page info. key returns a row's sort key.
func window[T any](rows []T, page assistloop.Page, key func(T) (time.Time, string)) ([]T, []string, assistloop.PageInfo) {
	info := assistloop.PageInfo{HasPreviousPage: page.After != "" || page.Offset > 0}
	if len(rows) > page.First {
		rows = rows[:page.First]
		info.HasNextPage = true
	}
	cursors := make([]string, len(rows))
	for i, r := range rows {
		t, id := key(r)
		cursors[i] = encodeCursor(t, id)
	}
	if len(cursors) > 0 {
		info.StartCursor = cursors[0]
		info.EndCursor = cursors[len(cursors)-1]
	}
	return rows, cursors, info
}
