package rest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Reshaping GraphQL data into the documented JSON.
//
// The routes' documents select fields under their REST names (aliases) and
// in the reference's order, so a REST item is its GraphQL object with only
// a few values re-encoded: enums (AGENT → "agent"), the open status
// (OPEN → true), timestamps (RFC 3339 → the reference's layouts). The
// functions here walk gqlgen's JSON output as raw bytes, copy every other
// value through untouched and rewrite those few, so a response costs one
// pass over the data instead of a decode and an encode.

// errMalformed means the data is not the JSON gqlgen writes: a bug.
var errMalformed = errors.New("rest: malformed GraphQL data")

// rewrite maps a field name to the function that re-encodes its value;
// fields it does not name are copied as they are.
type rewrite map[string]func(dst *bytes.Buffer, raw []byte) error

// object writes the JSON object obj to dst, rewriting its values.
func (rw rewrite) object(dst *bytes.Buffer, obj []byte) error {
	dst.WriteByte('{')
	n := 0
	err := fields(obj, func(key, val []byte) error {
		if n > 0 {
			dst.WriteByte(',')
		}
		n++
		dst.WriteByte('"')
		dst.Write(key) // a GraphQL name: nothing to escape
		dst.WriteString(`":`)
		if f, ok := rw[string(key)]; ok {
			return f(dst, val)
		}
		dst.Write(val)
		return nil
	})
	dst.WriteByte('}')
	return err
}

// list writes the objects of the JSON array arr to dst, rewriting each,
// without the surrounding brackets.
func (rw rewrite) list(dst *bytes.Buffer, arr []byte, first bool) error {
	return elements(arr, func(obj []byte) error {
		if !first {
			dst.WriteByte(',')
		}
		first = false
		return rw.object(dst, obj)
	})
}

// array is a whole JSON array of rewritten objects, ending with a newline.
func (rw rewrite) array(arr []byte) (rawJSON, error) {
	var b bytes.Buffer
	b.Grow(len(arr) + 64)
	b.WriteByte('[')
	if err := rw.list(&b, arr, true); err != nil {
		return nil, err
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}

// enumValue re-encodes a GraphQL enum value (or null) by values.
func enumValue(values map[string]string) func(*bytes.Buffer, []byte) error {
	return func(dst *bytes.Buffer, raw []byte) error {
		if string(raw) == "null" {
			dst.WriteString("null")
			return nil
		}
		v, ok := values[string(unquoted(raw))]
		if !ok {
			return fmt.Errorf("rest: unmapped GraphQL enum value %s", raw)
		}
		dst.WriteByte('"')
		dst.WriteString(v) // one of our own constants: nothing to escape
		dst.WriteByte('"')
		return nil
	}
}

// boolValue re-encodes a GraphQL enum value as a boolean by values.
func boolValue(values map[string]bool) func(*bytes.Buffer, []byte) error {
	return func(dst *bytes.Buffer, raw []byte) error {
		v, ok := values[string(unquoted(raw))]
		if !ok {
			return fmt.Errorf("rest: unmapped GraphQL enum value %s", raw)
		}
		dst.WriteString(strconv.FormatBool(v))
		return nil
	}
}

// timeValue re-encodes a GraphQL Time (RFC 3339, or null) with format.
func timeValue(format func(time.Time) string) func(*bytes.Buffer, []byte) error {
	return func(dst *bytes.Buffer, raw []byte) error {
		if string(raw) == "null" {
			dst.WriteString("null")
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, string(unquoted(raw)))
		if err != nil {
			return fmt.Errorf("rest: GraphQL time %s: %w", raw, err)
		}
		dst.WriteByte('"')
		dst.WriteString(format(t))
		dst.WriteByte('"')
		return nil
	}
}

// nullAs writes replacement instead of a null value.
func nullAs(replacement string) func(*bytes.Buffer, []byte) error {
	return func(dst *bytes.Buffer, raw []byte) error {
		if string(raw) == "null" {
			dst.WriteString(replacement)
		} else {
			dst.Write(raw)
		}
		return nil
	}
}

// unquoted strips the quotes of a JSON string without escapes (enum values
// and timestamps never have any).
func unquoted(raw []byte) []byte {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		return raw[1 : len(raw)-1]
	}
	return raw
}

// at follows keys from the JSON object data and returns the raw value.
func at(data []byte, keys ...string) ([]byte, error) {
	for _, k := range keys {
		var found []byte
		err := fields(data, func(key, val []byte) error {
			if string(key) == k {
				found = val
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if found == nil {
			return nil, fmt.Errorf("rest: GraphQL data has no %q", k)
		}
		data = found
	}
	return data, nil
}

// fields calls fn with each key (without its quotes) and raw value of the
// JSON object obj. Keys are GraphQL names or aliases: they never hold
// escapes.
func fields(obj []byte, fn func(key, val []byte) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errMalformed
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errMalformed
		}
		end, err := skipString(obj, i)
		if err != nil {
			return err
		}
		key := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errMalformed
		}
		start := skipSpace(obj, i+1)
		end, err = skipValue(obj, start)
		if err != nil {
			return err
		}
		if err := fn(key, obj[start:end]); err != nil {
			return err
		}
		i = skipSpace(obj, end)
		if i >= len(obj) {
			return errMalformed
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return nil
		default:
			return errMalformed
		}
	}
}

// elements calls fn with each raw element of the JSON array arr.
func elements(arr []byte, fn func(val []byte) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return errMalformed
	}
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return nil
	}
	for {
		end, err := skipValue(arr, i)
		if err != nil {
			return err
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if i >= len(arr) {
			return errMalformed
		}
		switch arr[i] {
		case ',':
			i = skipSpace(arr, i+1)
		case ']':
			return nil
		default:
			return errMalformed
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at b[i].
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped character (or the u of \uXXXX)
		case '"':
			return i + 1, nil
		}
	}
	return 0, errMalformed
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errMalformed
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errMalformed
	default: // a number, true, false or null
		start := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
			i++
		}
		if i == start {
			return 0, errMalformed
		}
		return i, nil
	}
}
