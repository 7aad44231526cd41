package rest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Body readers of the Conversations API, beyond requiredString and
// optionalString: each records a wrong type in invalid under the field's
// reference name.

// has reports whether the body has the field (null counts as present).
func (b *requestBody) has(name string) bool {
	if b.form != nil {
		return b.form.Has(name)
	}
	_, ok := b.json[name]
	return ok
}

// isNull reports whether the field is present and null.
func (b *requestBody) isNull(name string) bool {
	if b.form != nil {
		return false
	}
	raw, ok := b.json[name]
	return ok && string(raw) == "null"
}

// optionalBool reads a boolean (true/false; in a form also 1/0).
func (b *requestBody) optionalBool(invalid *assistloop.Error, name string) *bool {
	if b.form != nil {
		if !b.form.Has(name) {
			return nil
		}
		v, err := strconv.ParseBool(b.form.Get(name))
		if err != nil {
			invalid.Add(name, fmt.Sprintf("The %s field must be true or false.", attribute(name)))
			return nil
		}
		return &v
	}
	raw, ok := b.json[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		invalid.Add(name, fmt.Sprintf("The %s field must be true or false.", attribute(name)))
		return nil
	}
	return &v
}

// optionalInt reads an integer.
func (b *requestBody) optionalInt(invalid *assistloop.Error, name string) *int64 {
	var s string
	if b.form != nil {
		if !b.form.Has(name) {
			return nil
		}
		s = b.form.Get(name)
	} else {
		raw, ok := b.json[name]
		if !ok || string(raw) == "null" {
			return nil
		}
		s = string(raw)
		var quoted string
		if json.Unmarshal(raw, &quoted) == nil {
			s = quoted // "1669287863": a number sent as a string
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		invalid.Add(name, fmt.Sprintf("The %s must be an integer.", attribute(name)))
		return nil
	}
	return &n
}

// stringList reads an array of strings (in a form: repeated fields).
func (b *requestBody) stringList(invalid *assistloop.Error, name string) []string {
	if b.form != nil {
		return b.form[name]
	}
	raw, ok := b.json[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		invalid.Add(name, fmt.Sprintf("The %s must be an array of strings.", attribute(name)))
		return nil
	}
	return v
}

// object decodes a JSON object field into v; false when absent or wrong.
func (b *requestBody) object(invalid *assistloop.Error, name string, v any) bool {
	if b.form != nil {
		return false
	}
	raw, ok := b.json[name]
	if !ok || string(raw) == "null" {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		invalid.Add(name, fmt.Sprintf("The %s has the wrong shape.", attribute(name)))
		return false
	}
	return true
}

// Channels by the reference's message type names (case-insensitive).
var (
	outboundChannels = map[string]assistloop.MessageChannel{
		"sms": assistloop.ChannelSMS, "email": assistloop.ChannelEmail, "whatsapp": assistloop.ChannelWhatsApp,
		"gmb": assistloop.ChannelGMB, "ig": assistloop.ChannelIG, "fb": assistloop.ChannelFB,
		"custom": assistloop.ChannelCustom, "live_chat": assistloop.ChannelLiveChat,
	}
	inboundChannels = func() map[string]assistloop.MessageChannel {
		m := map[string]assistloop.MessageChannel{"webchat": assistloop.ChannelWebChat, "call": assistloop.ChannelCall}
		for k, v := range outboundChannels {
			m[k] = v
		}
		return m
	}()
	// graphQLChannels are the MessageChannel enum values.
	graphQLChannels = map[assistloop.MessageChannel]string{
		assistloop.ChannelLiveChat: "LIVE_CHAT", assistloop.ChannelWebChat: "WEBCHAT", assistloop.ChannelSMS: "SMS",
		assistloop.ChannelEmail: "EMAIL", assistloop.ChannelWhatsApp: "WHATSAPP", assistloop.ChannelGMB: "GMB",
		assistloop.ChannelIG: "IG", assistloop.ChannelFB: "FB", assistloop.ChannelCustom: "CUSTOM", assistloop.ChannelCall: "CALL",
	}
)

// channel reads the reference's "type" among choices (required when
// required) and returns the GraphQL MessageChannel value.
func (b *requestBody) channel(invalid *assistloop.Error, choices map[string]assistloop.MessageChannel, required bool) string {
	var s string
	if required {
		s = b.requiredString(invalid, "type")
	} else if p := b.optionalString(invalid, "type"); p != nil {
		s = *p
	}
	if s == "" {
		if required {
			return ""
		}
		return graphQLChannels[assistloop.ChannelLiveChat]
	}
	c, ok := choices[strings.ToLower(s)]
	if !ok {
		invalid.Add("type", "The selected type is invalid.")
		return ""
	}
	return graphQLChannels[c]
}

// attachmentIDs turns the reference's attachment URLs (or bare att_ ids)
// into attachment ids.
func attachmentIDs(invalid *assistloop.Error, urls []string) []string {
	ids := make([]string, 0, len(urls))
	for _, u := range urls {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		id := u[strings.LastIndex(u, "/")+1:]
		if !strings.HasPrefix(id, assistloop.PrefixAttachment) {
			invalid.Add("attachments", "Each attachment must be the URL (or id) of an uploaded file.")
			return nil
		}
		ids = append(ids, id)
	}
	return ids
}
