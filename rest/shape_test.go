package rest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestRewriteObject(t *testing.T) {
	rw := rewrite{
		"type":       enumValue(messageTypes),
		"status":     boolValue(openStatuses),
		"created_at": timeValue(assistloop.FormatMessageTimestamp),
		"deleted_at": timeValue(assistloop.FormatTimestamp),
		"chat_user":  nullAs(`{"name":null}`),
		"feedback":   enumValue(userFeedbacks),
	}
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"type":"GUEST","status":"OPEN"}`, `{"type":"guest","status":true}`},
		{`{"status":"CLOSED","feedback":"NOT_ALLOWED"}`, `{"status":false,"feedback":"not-allowed"}`},
		{`{"feedback":null,"deleted_at":null,"chat_user":null}`, `{"feedback":null,"deleted_at":null,"chat_user":{"name":null}}`},
		{`{"created_at":"2024-11-12T10:30:15Z"}`, `{"created_at":"2024-11-12T10:30:15.000000Z"}`},
		{`{"created_at":"2024-11-12T12:30:15.1234567+02:00"}`, `{"created_at":"2024-11-12T10:30:15.123456Z"}`},
		{`{"deleted_at":"2024-11-12T10:30:15.999999Z"}`, `{"deleted_at":"2024-11-12T10:30:15Z"}`},
		{`{"chat_user":{"name":"Jane"}}`, `{"chat_user":{"name":"Jane"}}`},
		// Everything else passes through byte for byte, escapes included.
		{`{"content":"a \"quoted\" {brace} [bracket] \\ \u00e9 \n","n":-1.5e3,"b":true,"x":null,"a":[1,[2,{"c":"}"}]],"o":{}}`,
			`{"content":"a \"quoted\" {brace} [bracket] \\ \u00e9 \n","n":-1.5e3,"b":true,"x":null,"a":[1,[2,{"c":"}"}]],"o":{}}`},
		{" { \"type\" : \"AGENT\" ,\n\t\"x\" : [ 1 , 2 ] } ", `{"type":"agent","x":[ 1 , 2 ]}`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := rw.object(&b, []byte(tt.in)); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if b.String() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, b.String(), tt.want)
		}
	}
}

func TestRewriteErrors(t *testing.T) {
	rw := rewrite{"type": enumValue(messageTypes), "status": boolValue(openStatuses), "at": timeValue(assistloop.FormatTimestamp)}
	for _, in := range []string{
		``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":"unterminated}`, `{"a":[1,2}`, `{a:1}`,
		`{"type":"ROBOT"}`, `{"status":"MAYBE"}`, `{"status":null}`, `{"at":"yesterday"}`,
	} {
		var b bytes.Buffer
		if err := rw.object(&b, []byte(in)); err == nil {
			t.Errorf("%q: no error, wrote %s", in, b.String())
		}
	}
	if _, err := at([]byte(`{"a":{"b":1}}`), "a", "c"); err == nil {
		t.Error("at: a missing key is not an error")
	}
	if v, err := at([]byte(`{"a":{"b":[1,{"c":2}]},"b":3}`), "a", "b"); err != nil || string(v) != `[1,{"c":2}]` {
		t.Errorf("at: %s, %v", v, err)
	}
}

// Every GraphQL enum value has a REST spelling.
func TestEnumsComplete(t *testing.T) {
	for _, tt := range []struct {
		values map[string]string
		want   []string
	}{
		{messageTypes, []string{string(assistloop.MessageGuest), string(assistloop.MessageAgent), string(assistloop.MessagePlatformAction)}},
		{responderTypes, []string{string(assistloop.ResponderAI), string(assistloop.ResponderHumanAssistant)}},
		{userFeedbacks, []string{string(assistloop.FeedbackPositive), string(assistloop.FeedbackNegative), string(assistloop.FeedbackNotAllowed)}},
		{responseModes, []string{string(assistloop.ResponseModeAI), string(assistloop.ResponseModeHuman)}},
	} {
		got := map[string]bool{}
		for _, v := range tt.values {
			got[v] = true
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("no GraphQL value maps to %q", w)
			}
		}
	}
}

// FuzzRewriteIdentity: with no rewrites, any JSON object comes out as the
// same JSON, and malformed input is an error, never a panic.
func FuzzRewriteIdentity(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":"\"}","b":[{},[]],"c":{"d":null}}`, `{"a":"\u2028"}`, `{"a":1`, `[1]`, `{"":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b bytes.Buffer
		err := rewrite{}.object(&b, in)
		valid := json.Valid(in) && bytes.HasPrefix(bytes.TrimLeft(in, " \t\r\n"), []byte("{"))
		if !valid {
			return // the rewriter may or may not notice; it must not panic
		}
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		var want, got bytes.Buffer
		if json.Compact(&want, in) != nil || json.Compact(&got, b.Bytes()) != nil || want.String() != got.String() {
			t.Fatalf("%q came out as %q", in, b.String())
		}
	})
}
