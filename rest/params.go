package rest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Paging limits of the documented list endpoints.
const (
	minPerPage     = 10
	maxPerPage     = 100
	defaultPerPage = 20
	// maxPage keeps (page-1)*per_page inside GraphQL's 32-bit Int.
	maxPage = 100000
)

// queryParams reads a request's query string and collects every problem
// with it, field by field, for one 422 answer. Empty values count as absent;
// unknown parameters are ignored.
type queryParams struct {
	values  url.Values
	invalid *assistloop.Error
}

func (x *exchange) query() *queryParams {
	return &queryParams{values: x.r.URL.Query(), invalid: assistloop.Invalid()}
}

// err returns the collected problems, or nil.
func (q *queryParams) err() error { return q.invalid.Err() }

func (q *queryParams) get(name string) (string, bool) {
	v := strings.TrimSpace(q.values.Get(name))
	return v, v != ""
}

// attribute is a parameter's name as validation messages spell it:
// per_page → "per page", locationId → "location id".
func attribute(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == '_':
			b.WriteByte(' ')
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// integer reads an integer between min and max, def when absent.
func (q *queryParams) integer(name string, def, min, max int) int {
	s, ok := q.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		q.invalid.Add(name, fmt.Sprintf("The %s must be an integer.", attribute(name)))
	case n < min || n > max:
		q.invalid.Add(name, fmt.Sprintf("The %s must be between %d and %d.", attribute(name), min, max))
	default:
		return n
	}
	return def
}

// oneOf reads a value among choices and returns what it maps to.
func (q *queryParams) oneOf(name string, choices map[string]string) (string, bool) {
	s, ok := q.get(name)
	if !ok {
		return "", false
	}
	v, ok := choices[s]
	if !ok {
		q.invalid.Add(name, fmt.Sprintf("The selected %s is invalid.", attribute(name)))
	}
	return v, ok
}

// date reads an ISO 8601 date or date-time as a GraphQL Time. A date alone
// means midnight UTC, or with endOfDay the day's last microsecond, so that
// created_to=2024-11-12 includes the whole day.
func (q *queryParams) date(name string, endOfDay bool) (string, bool) {
	s, ok := q.get(name)
	if !ok {
		return "", false
	}
	t, dateOnly, ok := parseISO8601(s)
	if !ok {
		q.invalid.Add(name, fmt.Sprintf("The %s is not a valid date.", attribute(name)))
		return "", false
	}
	if dateOnly && endOfDay {
		t = t.Add(24*time.Hour - time.Microsecond)
	}
	return t.UTC().Format(time.RFC3339Nano), true
}

// iso8601 are the accepted forms: a date, or a date and time (T or space)
// with optional seconds, fraction and zone (Z, ±hh:mm, ±hhmm; none = UTC).
var iso8601 = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04",
}

func parseISO8601(s string) (t time.Time, dateOnly bool, ok bool) {
	if len(s) == len(time.DateOnly) {
		t, err := time.Parse(time.DateOnly, s)
		return t, true, err == nil
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range iso8601 {
		if t, err := time.Parse(layout, s); err == nil {
			return t, false, true
		}
	}
	return time.Time{}, false, false
}

// pagination is a page of a list: per_page items after skipping the
// (page-1) pages before it.
type pagination struct {
	perPage int
	page    int
}

func (p pagination) offset() int { return (p.page - 1) * p.perPage }

// pagination reads per_page (10..100, def when absent) and page (1-based).
func (q *queryParams) pagination(def int) pagination {
	return pagination{
		perPage: q.integer("per_page", def, minPerPage, maxPerPage),
		page:    q.integer("page", 1, 1, maxPage),
	}
}

// paged reports whether the client asked for a page explicitly.
func (q *queryParams) paged() bool {
	_, page := q.get("page")
	_, perPage := q.get("per_page")
	return page || perPage
}

// dateRange adds the created_from/created_to parameters to a GraphQL
// filter as createdFrom/createdTo (a date alone as created_to means its
// whole day).
func (q *queryParams) dateRange(filter map[string]any) {
	if v, ok := q.date("created_from", false); ok {
		filter["createdFrom"] = v
	}
	if v, ok := q.date("created_to", true); ok {
		filter["createdTo"] = v
	}
}
