package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// requestBody is a decoded request body: a JSON object (the reference's
// format) or, as a courtesy to curl users, an HTML form. Unknown fields are
// ignored.
type requestBody struct {
	json map[string]json.RawMessage
	form url.Values
}

// body reads the request body, refusing bodies above the cap (413), bodies
// that are neither JSON nor a form (415) and malformed ones (400). An
// empty body is an empty object.
func (x *exchange) body() (*requestBody, error) {
	tooLarge := &assistloop.Error{Code: assistloop.ETOOLARGE, Title: "Payload too large",
		Message: fmt.Sprintf("The request body may not be larger than %d KiB.", x.maxBody>>10)}
	if x.r.ContentLength > x.maxBody {
		return nil, tooLarge
	}
	mediaType := ""
	if ct := x.r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, unsupportedMediaType()
		}
		mediaType = mt
	}
	isJSON := mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	isForm := mediaType == "application/x-www-form-urlencoded"
	if !isJSON && !isForm {
		return nil, unsupportedMediaType()
	}
	data, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, x.maxBody))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, tooLarge
		}
		return nil, badRequest("The request body could not be read.")
	}
	if isForm && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		// curl -d '{"content": …}' without a Content-Type header sends
		// JSON labelled as a form; read it as what it is.
		isForm = false
	}
	if isForm {
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, badRequest("The request body is not a valid form.")
		}
		return &requestBody{form: form}, nil
	}
	b := &requestBody{json: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return b, nil
	}
	if err := json.Unmarshal(data, &b.json); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, badRequest("The request body must be a JSON object.")
		}
		return nil, badRequest("The request body is not valid JSON.")
	}
	if b.json == nil { // the body was `null`
		b.json = map[string]json.RawMessage{}
	}
	return b, nil
}

// requiredString reads a string field, recording in invalid that it is
// missing (absent, null or empty) or not a string.
func (b *requestBody) requiredString(invalid *assistloop.Error, name string) string {
	required := fmt.Sprintf("The %s field is required.", attribute(name))
	if b.form != nil {
		v := b.form.Get(name)
		if v == "" {
			invalid.Add(name, required)
		}
		return v
	}
	raw, ok := b.json[name]
	if !ok || string(raw) == "null" {
		invalid.Add(name, required)
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		invalid.Add(name, fmt.Sprintf("The %s must be a string.", attribute(name)))
		return ""
	}
	if s == "" {
		invalid.Add(name, required)
	}
	return s
}

// optionalString reads a string field that may be absent (nil), recording
// in invalid a value that is not a string. Whether it is required is the
// domain's decision.
func (b *requestBody) optionalString(invalid *assistloop.Error, name string) *string {
	if b.form != nil {
		if !b.form.Has(name) {
			return nil
		}
		v := b.form.Get(name)
		return &v
	}
	raw, ok := b.json[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		invalid.Add(name, fmt.Sprintf("The %s must be a string.", attribute(name)))
		return nil
	}
	return &s
}

func badRequest(message string) error {
	return &assistloop.Error{Code: codeBadRequest, Title: "Bad request", Message: message}
}

func unsupportedMediaType() error {
	return &assistloop.Error{Code: assistloop.EUNSUPPORTED, Title: "Unsupported media type",
		Message: "The request body must be JSON (application/json) or a form (application/x-www-form-urlencoded)."}
}
