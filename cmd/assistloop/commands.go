package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/demo"
	"github.com/assistloop/assistloop/internal/pgcluster"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/migrations"
)

// environment is what every command runs with.
type environment struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

func (e environment) flags(name string) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print JSON on stdout")
	return fs, asJSON
}

func (e environment) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// open loads the configuration and opens the migrated database.
func (e environment) open(ctx context.Context) (*app.App, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	return app.Open(ctx, cfg, app.NewLogger(cfg, e.stderr))
}

// print writes v as JSON, or as "key: value" lines for people.
func (e environment) print(asJSON bool, v any, human string) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(e.stdout, human)
	return err
}

func (e environment) migrate(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("migrate")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := app.NewLogger(cfg, e.stderr)
	dsn, err := app.DatabaseURL(ctx, cfg, log)
	if err != nil {
		return err
	}
	db, err := postgres.Open(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := migrations.Apply(ctx, db)
	if err != nil {
		return err
	}
	if applied == nil {
		applied = []string{}
	}
	human := "database is up to date"
	if len(applied) > 0 {
		human = "applied: " + strings.Join(applied, ", ")
	}
	return e.print(*asJSON, map[string]any{"applied": applied}, human)
}

func demoServices(a *app.App) demo.Services {
	return demo.Services{Users: a.Services.Users, Organizations: a.Services.Organizations, Agents: a.Services.Agents,
		Conversations: a.Services.Conversations, Tokens: a.Tokens, Clients: a.Clients}
}

func (e environment) demo(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("demo")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := demo.Load(ctx, demoServices(a))
	if err != nil {
		return err
	}
	return e.print(*asJSON, res, banner(a.Config.PublicURL, res))
}

// banner tells a person how to use the demo workspace.
func banner(baseURL string, r *demo.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Demo workspace %s\n", r.OrganizationUUID)
	fmt.Fprintf(&b, "  login          %s / %s\n", r.User.Email, r.User.Password)
	fmt.Fprintf(&b, "  agents         %s\n", strings.Join(r.AgentUUIDs, ", "))
	fmt.Fprintf(&b, "  OAuth client   %s  secret %s\n", r.OAuthClient.ClientID, r.OAuthClient.ClientSecret)
	fmt.Fprintf(&b, "                 redirect URIs %s\n", strings.Join(r.OAuthClient.RedirectURIs, ", "))
	fmt.Fprintf(&b, "  access token   %s  (every scope, valid %d days)\n\n", r.AccessToken, int(demo.TokenTTL.Hours()/24))
	fmt.Fprintf(&b, "Try it:\n  curl -s %s/v1/oauth/me -H 'Authorization: Bearer %s'\n", baseURL, r.AccessToken)
	fmt.Fprintf(&b, "  GraphQL playground: %s/playground\n", baseURL)
	return b.String()
}

func (e environment) createUser(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("user create")
	email := fs.String("email", "", "the user's email (required)")
	password := fs.String("password", "", "the user's password, at least 8 characters (required)")
	name := fs.String("name", "", "the user's name (required)")
	org := fs.String("organization", "", "the name of the workspace to create (required)")
	agent := fs.String("agent-name", "Customer Support Agent", "the name of the workspace's first agent")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	u, o, ag, err := a.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{
		Email: *email, Password: *password, Name: *name, OrganizationName: *org, AgentName: *agent,
	})
	if err != nil {
		return err
	}
	return e.print(*asJSON, map[string]string{"user_uuid": u.ID, "organization_uuid": o.ID, "agent_uuid": ag.ID},
		fmt.Sprintf("user %s\nworkspace %s\nagent %s", u.ID, o.ID, ag.ID))
}

// repeated collects a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func (e environment) createClient(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("client create")
	name := fs.String("name", "", "the client's name (required)")
	var uris, scopes repeated
	fs.Var(&uris, "redirect-uri", "an allowed redirect URI, matched exactly (repeatable, at least one)")
	fs.Var(&scopes, "scope", "a scope the client may request (repeatable; default: every scope)")
	public := fs.Bool("public", false, "a public client (no secret; PKCE required)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	in := assistloop.CreateClientInput{Name: *name, RedirectURIs: uris, Public: *public}
	for _, s := range scopes {
		parsed, unknown := assistloop.ParseScopes(s)
		if len(unknown) > 0 {
			return usageError{fmt.Sprintf("client create: unknown scope %q", unknown[0])}
		}
		in.Scopes = append(in.Scopes, parsed...)
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	c, secret, err := a.Clients.CreateClient(ctx, in)
	if err != nil {
		return err
	}
	out := map[string]string{"client_id": c.ID}
	human := "client_id " + c.ID
	if !c.Public {
		out["client_secret"] = secret
		human += "\nclient_secret " + secret + "\n(the secret is shown only now)"
	}
	return e.print(*asJSON, out, human)
}

func (e environment) createToken(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("token create")
	userID := fs.String("user", "", "the user (usr_…) the token acts for (required)")
	scope := fs.String("scope", assistloop.FormatScopes(assistloop.AllScopes), "space-separated scopes")
	ttl := fs.Duration("ttl", 30*24*time.Hour, "lifetime (0: never expires)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	scopes, unknown := assistloop.ParseScopes(*scope)
	if len(unknown) > 0 {
		return usageError{fmt.Sprintf("token create: unknown scope %q", unknown[0])}
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Services.Users.FindUser(assistloop.NewSystemContext(ctx), *userID); err != nil {
		return err
	}
	token, t, err := a.Tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: *userID, Scopes: scopes, TTL: *ttl})
	if err != nil {
		return err
	}
	out := map[string]any{"access_token": token, "scope": assistloop.FormatScopes(t.Scopes), "expires_at": nil}
	if t.ExpiresAt != nil {
		out["expires_at"] = assistloop.FormatTimestamp(*t.ExpiresAt)
	}
	return e.print(*asJSON, out, token)
}

func (e environment) serve(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("serve")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := app.NewLogger(cfg, e.stderr)
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := a.Listen()
	if err != nil {
		return err
	}
	baseURL := cfg.PublicURL
	if e.getenv("PUBLIC_URL") == "" { // ADDR may have been :0
		scheme := "http"
		if cfg.TLS() {
			scheme = "https"
		}
		baseURL = scheme + "://" + ln.Addr().String()
	}
	if err := e.announce(ctx, a, baseURL, *asJSON, log); err != nil {
		ln.Close()
		return err
	}
	return a.Run(ctx, ln)
}

// announce loads the demo workspace into an empty development database and
// tells the person at the terminal how to use the service.
func (e environment) announce(ctx context.Context, a *app.App, baseURL string, asJSON bool, log *slog.Logger) error {
	empty := false
	if a.Config.DemoOnEmpty {
		if err := a.DB.NewRaw("SELECT NOT EXISTS (SELECT 1 FROM users)").Scan(ctx, &empty); err != nil {
			return err
		}
	}
	if !empty {
		if asJSON {
			return e.print(true, map[string]any{"url": baseURL, "demo": nil}, "")
		}
		fmt.Fprintf(e.stdout, "AssistLoop is running at %s (GraphQL playground: %s/playground)\n", baseURL, baseURL)
		if a.Config.Embedded() {
			fmt.Fprintln(e.stdout, "For a fresh demo access token: go run ./cmd/assistloop demo")
		}
		return nil
	}
	log.Info("empty database: loading the demo workspace")
	res, err := demo.Load(ctx, demoServices(a))
	if err != nil {
		return err
	}
	if asJSON {
		return e.print(true, map[string]any{"url": baseURL, "demo": res}, "")
	}
	fmt.Fprintf(e.stdout, "\nAssistLoop is running at %s\n\n%s\n", baseURL, banner(baseURL, res))
	return nil
}

func (e environment) stopDB(ctx context.Context, args []string) error {
	fs, asJSON := e.flags("db stop")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	c, err := pgcluster.Ensure(ctx, cfg.DataDir, nil)
	if err != nil {
		return err
	}
	if err := c.Stop(ctx); err != nil {
		return err
	}
	return e.print(*asJSON, map[string]any{"stopped": c.Dir}, "stopped the local PostgreSQL cluster in "+c.Dir)
}
