// Package rest is the REST API of the reference (/v1 and /api/v1): thin
// adapters that run fixed GraphQL documents against the schema in-process
// and reshape the results into the documented JSON. It holds no business
// rules and no SQL.
//
// A route is one small value (see route.go): its method and path, the scope
// it needs, its GraphQL document, and a function that reads the request,
// runs the document and shapes the answer. Adding an endpoint is adding a
// file with one route and listing it in routes below.
package rest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// routes lists every endpoint, in the reference's order.
var routes = []*route{
	meRoute,
	organizationsRoute,
	agentsRoute,
	listConversationsRoute,
	recentSampleRoute,
	closeConversationRoute,
	findMessagesRoute,
	replyRoute,
	subscribeWebhookRoute,
	unsubscribeWebhookRoute,
	// The Conversations API (second reference), conversations_*.go.
	searchConversationsRoute,
	getConversationRoute,
	createConversationRoute,
	updateConversationRoute,
	deleteConversationRoute,
	getMessageRoute,
	sendMessageRoute,
	inboundMessageRoute,
	uploadAttachmentsRoute,
	messageStatusRoute,
	cancelScheduledRoute,
	cancelScheduledEmailRoute,
	recordingRoute,
	transcriptionRoute,
	transcriptionDownloadRoute,
	attachmentDownloadRoute,
}

// DefaultMaxBodyBytes caps request bodies; larger ones get 413.
const DefaultMaxBodyBytes = 64 << 10

// Options configure the REST API.
type Options struct {
	// Executor runs the routes' GraphQL documents in-process (app.Executor).
	Executor *executor.Executor
	// Tokens authenticates bearer tokens.
	Tokens auth.Authenticator
	Log    *slog.Logger
	// RateLimit configures the per-account limits.
	RateLimit RateLimitOptions
	// MaxBodyBytes caps request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// Attachments streams stored files to clients. File bytes cannot
	// travel through GraphQL, so a download runs its GraphQL document
	// (scope, tenancy, metadata) and then reads the bytes here.
	Attachments assistloop.AttachmentService
	// UploadMaxBytes caps one uploaded file (the attachment service's
	// limit; DefaultUploadMaxBytes when 0) and UploadMaxFiles the files of
	// one upload (DefaultUploadMaxFiles when 0).
	UploadMaxBytes int64
	UploadMaxFiles int
	// PublicURL is the service's external base URL (attachment URLs).
	PublicURL string
}

// Upload limits.
const (
	DefaultUploadMaxBytes = 25 << 20
	DefaultUploadMaxFiles = 10
)

// RateLimitOptions configure the rate limits (see ratelimit.go).
type RateLimitOptions struct {
	// Window is the length of the rate-limit window (one minute when 0).
	Window time.Duration
	// Redis, when set, holds the counters, so every instance sharing it
	// shares each account's budget. Nil: counters live in this process.
	Redis *redis.Client
	// RedisPrefix prefixes the counters' Redis keys ("assistloop:ratelimit"
	// when empty).
	RedisPrefix string
}

// api is what every route handler shares.
type api struct {
	exec    *executor.Executor
	log     *slog.Logger
	maxBody int64

	attachments    assistloop.AttachmentService
	uploadMaxBytes int64
	uploadMaxFiles int
	publicURL      string
}

// New returns the REST API's handler, to be mounted under /v1 and /api/v1
// (mount the same handler under both so they share one rate-limit budget).
// It checks every route's GraphQL document against the executor's schema
// and fails if one is invalid.
func New(opts Options) (http.Handler, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &api{exec: opts.Executor, log: log, maxBody: opts.MaxBodyBytes, attachments: opts.Attachments,
		uploadMaxBytes: opts.UploadMaxBytes, uploadMaxFiles: opts.UploadMaxFiles, publicURL: opts.PublicURL}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.uploadMaxBytes <= 0 {
		a.uploadMaxBytes = DefaultUploadMaxBytes
	}
	if a.uploadMaxFiles <= 0 {
		a.uploadMaxFiles = DefaultUploadMaxFiles
	}
	for _, rt := range routes {
		if err := a.prepare(rt); err != nil {
			return nil, err
		}
	}
	limits := newLimits(opts.RateLimit, log)
	writeError := WriteError(log)

	r := chi.NewRouter()
	r.NotFound(limits.public(func(w http.ResponseWriter, _ *http.Request) {
		WriteErrorBody(w, http.StatusNotFound, &assistloop.Error{Code: assistloop.ENOTFOUND, Title: "Not found",
			Message: "The requested route does not exist."})
	}))
	r.MethodNotAllowed(limits.public(func(w http.ResponseWriter, r *http.Request) {
		WriteErrorBody(w, http.StatusMethodNotAllowed, &assistloop.Error{Code: assistloop.EINVALID, Title: "Method not allowed",
			Message: "The route does not support the " + r.Method + " method."})
	}))
	r.Get("/openapi.json", limits.public(serveOpenAPI))
	r.Group(func(r chi.Router) {
		// A request whose token is refused counts against its address.
		r.Use(auth.Require(opts.Tokens, func(w http.ResponseWriter, r *http.Request, err error) {
			limits.public(func(w http.ResponseWriter, r *http.Request) { writeError(w, r, err) })(w, r)
		}))
		for _, rt := range routes {
			chain := []*limiter{limits.all}
			if rt.closeLimit {
				chain = append(chain, limits.close)
			}
			r.With(limits.middleware(chain...)).Method(rt.method, rt.pattern, a.handler(rt))
		}
	})
	return r, nil
}

// prepare parses and validates a route's document once, through the
// executor, which keeps it in its query cache for every later call.
func (a *api) prepare(rt *route) error {
	ctx := graphql.StartOperationTrace(context.Background())
	oc, errs := a.exec.CreateOperationContext(ctx, &graphql.RawParams{Query: rt.document})
	// Variables are checked after the document; a valid document fails
	// there only because none were given.
	if oc == nil || oc.Doc == nil {
		return fmt.Errorf("rest: %s %s: invalid GraphQL document: %v", rt.method, rt.pattern, errs)
	}
	return nil
}
