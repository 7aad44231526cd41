package rest_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/rest"
)

// TestOpenAPIDescribesEveryRoute: the description and the route table
// agree on paths, methods, path parameters and scopes.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var servers []string
	for _, s := range doc.Servers {
		servers = append(servers, s.URL)
	}
	if !slices.Equal(servers, []string{"/v1", "/api/v1"}) {
		t.Errorf("servers %v, want /v1 and /api/v1", servers)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	delete(documented, "GET /openapi.json")
	params := regexp.MustCompile(`\{([^}]+)\}`)
	for _, rt := range rest.Routes() {
		key := rt.Method + " " + rt.Pattern
		if !documented[key] {
			t.Errorf("%s is not in the description", key)
			continue
		}
		delete(documented, key)
		op := doc.Paths.Find(rt.Pattern).GetOperation(rt.Method)
		var scopes []string
		if op.Security != nil {
			for _, req := range *op.Security {
				scopes = append(scopes, req["oauth2"]...)
			}
		}
		want := []string{}
		if rt.Scope != "" {
			want = []string{string(rt.Scope)}
		}
		if !slices.Equal(scopes, want) {
			t.Errorf("%s: documented scopes %v, route needs %v", key, scopes, want)
		}
		if _, ok := op.Responses.Map()["403"]; ok != (rt.Scope != "") {
			t.Errorf("%s: 403 documented %v, route has a scope %v", key, ok, rt.Scope != "")
		}
		if _, ok := op.Responses.Map()["429"]; !ok {
			t.Errorf("%s: 429 not documented", key)
		}
		for _, m := range params.FindAllStringSubmatch(rt.Pattern, -1) {
			if p := op.Parameters.GetByInAndName("path", m[1]); p == nil {
				t.Errorf("%s: path parameter %s not documented", key, m[1])
			}
		}
		if body := op.RequestBody != nil; body != (rt.Method == http.MethodPost || rt.Method == http.MethodPut) {
			t.Errorf("%s: request body documented %v", key, body)
		}
		if strings.Contains(op.Description, "10 requests per minute") != rt.CloseLimit {
			t.Errorf("%s: the close limit is not documented as it applies", key)
		}
	}
	for key := range documented {
		t.Errorf("%s is documented but not served", key)
	}
}
