package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// cli runs one command line against the package's database and decodes
// its --json output.
func cli(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out bytes.Buffer
	env := map[string]string{"DATABASE_URL": pgtest.DSN(t), "LOG_LEVEL": "error"}
	if err := run(context.Background(), append(args, "--json"), func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v printed %q: %v", args, out.String(), err)
	}
	return v
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// TestCLICommands checks every command's JSON output against the
// contract's shapes.
func TestCLICommands(t *testing.T) {
	if got := cli(t, "migrate"); keys(got) != "applied" {
		t.Errorf("migrate printed %v", got)
	}

	user := cli(t, "user", "create", "--email", "ops@initech.example", "--password", "a long password",
		"--name", "Peter Gibbons", "--organization", "Initech")
	if keys(user) != "agent_uuid,organization_uuid,user_uuid" || !strings.HasPrefix(user["user_uuid"].(string), "usr_") ||
		!strings.HasPrefix(user["organization_uuid"].(string), "org_") || !strings.HasPrefix(user["agent_uuid"].(string), "agt_") {
		t.Errorf("user create printed %v", user)
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"user", "create", "--email", "OPS@initech.example", "--password", "another password",
		"--name", "Dup", "--organization", "Dup"}, func(k string) string {
		return map[string]string{"DATABASE_URL": pgtest.DSN(t), "LOG_LEVEL": "error"}[k]
	}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate email: %v", err)
	}

	confidential := cli(t, "client", "create", "--name", "Make", "--redirect-uri", "https://www.make.com/oauth/cb/app",
		"--redirect-uri", "https://www.integromat.com/oauth/cb/app")
	if keys(confidential) != "client_id,client_secret" || !strings.HasPrefix(confidential["client_secret"].(string), "alcs_") {
		t.Errorf("client create printed %v", confidential)
	}
	public := cli(t, "client", "create", "--name", "SPA", "--redirect-uri", "http://127.0.0.1:9000/cb", "--public")
	if keys(public) != "client_id" {
		t.Errorf("client create --public printed %v", public)
	}

	token := cli(t, "token", "create", "--user", user["user_uuid"].(string), "--scope", "read:conversations conversations.write")
	if keys(token) != "access_token,expires_at,scope" || token["scope"] != "read:conversations write:conversations" {
		t.Errorf("token create printed %v", token)
	}

	first := cli(t, "demo")
	if keys(first) != "access_token,agent_uuids,oauth_client,organization_uuid,user" ||
		keys(first["user"].(map[string]any)) != "email,password,uuid" ||
		keys(first["oauth_client"].(map[string]any)) != "client_id,client_secret,redirect_uris" ||
		len(first["agent_uuids"].([]any)) != 2 {
		t.Fatalf("demo printed %v", first)
	}
	// Idempotent: the same workspace, fresh credentials.
	second := cli(t, "demo")
	if second["organization_uuid"] != first["organization_uuid"] || second["access_token"] == first["access_token"] ||
		second["oauth_client"].(map[string]any)["client_secret"] == first["oauth_client"].(map[string]any)["client_secret"] {
		t.Errorf("second demo: %v\nfirst: %v", second, first)
	}
}
