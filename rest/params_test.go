package rest

import (
	"net/url"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestDates(t *testing.T) {
	tests := []struct {
		in       string
		endOfDay bool
		want     string // RFC 3339 in UTC; "" = invalid
	}{
		{"2024-11-12", false, "2024-11-12T00:00:00Z"},
		{"2024-11-12", true, "2024-11-12T23:59:59.999999Z"},
		{"2024-11-12T10:30:00Z", true, "2024-11-12T10:30:00Z"},
		{"2024-11-12T10:30:00.5Z", false, "2024-11-12T10:30:00.5Z"},
		{"2024-11-12T10:30:00.123456789Z", false, "2024-11-12T10:30:00.123456789Z"},
		{"2024-11-12T12:30:00+02:00", false, "2024-11-12T10:30:00Z"},
		{"2024-11-12T05:30:00-0500", false, "2024-11-12T10:30:00Z"},
		{"2024-11-12T10:30:00", false, "2024-11-12T10:30:00Z"},
		{"2024-11-12T10:30Z", false, "2024-11-12T10:30:00Z"},
		{"2024-11-12T10:30", false, "2024-11-12T10:30:00Z"},
		{"2024-11-12 10:30:00", false, "2024-11-12T10:30:00Z"},
		{"2024-11-12 10:30:00Z", false, "2024-11-12T10:30:00Z"},
		{"2024-02-29", false, "2024-02-29T00:00:00Z"},
		{"2023-02-29", false, ""},
		{"2024-11-12T24:00:00Z", false, ""},
		{"2024-11-12T10:30:00+25:00", false, ""},
		{"2024-11-12T", false, ""},
		{"2024-11", false, ""},
		{"20241112", false, ""},
		{"12/11/2024", false, ""},
		{"1731407400", false, ""},
		{"tomorrow", false, ""},
	}
	for _, tt := range tests {
		q := &queryParams{values: url.Values{"d": {tt.in}}, invalid: assistloop.Invalid()}
		got, ok := q.date("d", tt.endOfDay)
		if tt.want == "" {
			if ok || q.err() == nil {
				t.Errorf("%q accepted as %s", tt.in, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("%q (end of day %v) = %q, %v; want %q", tt.in, tt.endOfDay, got, ok, tt.want)
		}
	}
}
