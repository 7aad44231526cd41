package app_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/assistloop/assistloop/graph"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// The two WebSocket subprotocols GraphQL clients speak.
const (
	transportWS = "graphql-transport-ws" // graphql-ws (the npm library), current
	legacyWS    = "graphql-ws"           // subscriptions-transport-ws, legacy
)

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a minimal GraphQL-over-WebSocket client for both protocols.
type wsClient struct {
	t      *testing.T
	conn   *websocket.Conn
	proto  string
	pings  int // keep-alive messages seen (ka or ping)
	seq    int
	closed bool
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/graphql" }

// dialWS opens a connection and sends connection_init with payload. It
// returns the client and the first message other than a keep-alive.
func dialWS(t *testing.T, base, proto string, payload any) (*wsClient, wsMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(base), &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("negotiated %q, want %q", conn.Subprotocol(), proto)
	}
	c := &wsClient{t: t, conn: conn, proto: proto}
	t.Cleanup(func() { c.conn.CloseNow() })
	init := wsMessage{Type: "connection_init"}
	if payload != nil {
		init.Payload, _ = json.Marshal(payload)
	}
	c.send(init)
	return c, c.read()
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next message that is not a keep-alive, answering pings.
// A closed connection reads as a message of type "closed".
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				c.t.Fatal("no message within 30s")
			}
			c.closed = true
			return wsMessage{Type: "closed", Payload: json.RawMessage(`"` + websocket.CloseStatus(err).String() + `"`)}
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("not JSON: %s", b)
		}
		switch m.Type {
		case "ka":
			c.pings++
			continue
		case "ping":
			c.pings++
			c.send(wsMessage{Type: "pong"})
			continue
		case "pong":
			continue
		}
		return m
	}
}

// subscribe starts an operation and returns its id.
func (c *wsClient) subscribe(query string, vars map[string]any) string {
	c.t.Helper()
	c.seq++
	id := string(rune('a' + c.seq))
	typ := "subscribe"
	if c.proto == legacyWS {
		typ = "start"
	}
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	c.send(wsMessage{ID: id, Type: typ, Payload: payload})
	return id
}

// stop ends an operation.
func (c *wsClient) stop(id string) {
	c.t.Helper()
	typ := "complete"
	if c.proto == legacyWS {
		typ = "stop"
	}
	c.send(wsMessage{ID: id, Type: typ})
}

// data reads the next result and decodes its data into v; it fails the
// test on errors.
func (c *wsClient) data(v any) { c.t.Helper(); c.dataOf("", v) }

// dataOf is data for the operation id, skipping other operations' messages
// (all when id is empty).
func (c *wsClient) dataOf(id string, v any) {
	c.t.Helper()
	m := c.read()
	for id != "" && m.ID != id && m.Type != "closed" {
		m = c.read()
	}
	if m.Type != "next" && m.Type != "data" {
		c.t.Fatalf("got %s %s, want a result", m.Type, m.Payload)
	}
	var res gqlResponse
	if err := json.Unmarshal(m.Payload, &res); err != nil {
		c.t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		c.t.Fatalf("errors: %+v", res.Errors)
	}
	if err := json.Unmarshal(res.Data, v); err != nil {
		c.t.Fatal(err)
	}
}

// errorCode reads the next message of operation id, which must report an
// error, and returns its extensions.code.
func (c *wsClient) errorCode(id string) string {
	c.t.Helper()
	m := c.read()
	for m.ID != id && m.Type != "closed" {
		m = c.read()
	}
	var errs []gqlError
	switch m.Type {
	case "error":
		_ = json.Unmarshal(m.Payload, &errs)
	case "next", "data":
		var res gqlResponse
		_ = json.Unmarshal(m.Payload, &res)
		errs = res.Errors
	default:
		c.t.Fatalf("got %s %s, want an error", m.Type, m.Payload)
	}
	if len(errs) == 0 {
		c.t.Fatalf("no error in %s", m.Payload)
	}
	return errs[0].Extensions.Code
}

const eventsSubscription = `subscription($after: ID, $types: [EventType!]) {
  events(after: $after, types: $types) { id type payload organization { uuid } }
}`

type eventData struct {
	Events struct {
		ID           string
		Type         string
		Payload      json.RawMessage
		Organization struct{ UUID string }
	}
}

func auth(token string) map[string]any { return map[string]any{"Authorization": "Bearer " + token} }

func expectAck(t *testing.T, m wsMessage) {
	t.Helper()
	if m.Type != "connection_ack" {
		t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
}

// TestEventsSubscriptionOverWebSocket: the durable event stream over both
// subprotocols: workspace-scoped, filtered by type, resumable after the
// last id seen, live after the replay.
func TestEventsSubscriptionOverWebSocket(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	for _, proto := range []string{transportWS, legacyWS} {
		t.Run(proto, func(t *testing.T) {
			acc := newAccount(t, a, "Acme Corporation")
			other := newAccount(t, a, "Other Inc")
			c, ack := dialWS(t, base, proto, auth(acc.Token))
			expectAck(t, ack)
			first := startConversation(t, base, acc, "first").StartConversation.Conversation.UUID

			// The whole retained stream: other workspaces' events are
			// invisible, so the first event seen is the caller's.
			c.subscribe(eventsSubscription, map[string]any{"types": []string{"NEW_CONVERSATION"}})
			var ev eventData
			c.data(&ev)
			if ev.Events.Organization.UUID != acc.OrganizationID || ev.Events.Type != "NEW_CONVERSATION" {
				t.Fatalf("first event %+v", ev.Events)
			}
			var payload assistloop.WebhookPayload
			if err := json.Unmarshal(ev.Events.Payload, &payload); err != nil || payload.ID != ev.Events.ID ||
				payload.Data.Conversation.UUID != first {
				t.Fatalf("payload %s: %v", ev.Events.Payload, err)
			}
			lastSeen := ev.Events.ID

			// Live: another workspace's event never arrives, ours does.
			startConversation(t, base, other, "not yours")
			second := startConversation(t, base, acc, "second").StartConversation.Conversation.UUID
			c.data(&ev)
			if err := json.Unmarshal(ev.Events.Payload, &payload); err != nil || payload.Data.Conversation.UUID != second {
				t.Fatalf("live event %s, want conversation %s", ev.Events.Payload, second)
			}
			lastSeen = ev.Events.ID
			c.conn.Close(websocket.StatusNormalClosure, "bye")

			// Events while disconnected are replayed after the last id seen,
			// in order, then the stream goes live again.
			var missed []string
			for _, s := range []string{"third", "fourth"} {
				missed = append(missed, startConversation(t, base, acc, s).StartConversation.Conversation.UUID)
			}
			c, ack = dialWS(t, base, proto, auth(acc.Token))
			expectAck(t, ack)
			c.subscribe(eventsSubscription, map[string]any{"after": lastSeen, "types": []string{"NEW_CONVERSATION"}})
			for _, want := range missed {
				c.data(&ev)
				if err := json.Unmarshal(ev.Events.Payload, &payload); err != nil || payload.Data.Conversation.UUID != want {
					t.Fatalf("replayed %s, want conversation %s", ev.Events.Payload, want)
				}
			}
			fifth := startConversation(t, base, acc, "fifth").StartConversation.Conversation.UUID
			c.data(&ev)
			if err := json.Unmarshal(ev.Events.Payload, &payload); err != nil || payload.Data.Conversation.UUID != fifth {
				t.Fatalf("live after replay %s, want conversation %s", ev.Events.Payload, fifth)
			}

			// A type filter: only handoffs.
			id := c.subscribe(eventsSubscription, map[string]any{"after": ev.Events.ID, "types": []string{"HUMAN_HANDOFF_REQUIRED"}})
			startConversation(t, base, acc, "sixth")
			mustGQL(t, base, acc.Token, `mutation($id: ID!) { requestHumanHandoff(input: {conversationUuid: $id}) { conversation { uuid } } }`,
				map[string]any{"id": fifth}, nil)
			c.dataOf(id, &ev)
			if ev.Events.Type != "HUMAN_HANDOFF_REQUIRED" {
				t.Fatalf("filtered stream got %s", ev.Events.Type)
			}
			c.stop(id)

			// Resuming after another workspace's event: it does not exist.
			var foreign struct {
				Events struct{ ID string }
			}
			oc, ack := dialWS(t, base, proto, auth(other.Token))
			expectAck(t, ack)
			oc.subscribe(`subscription { events { id } }`, nil)
			oc.data(&foreign)
			id = c.subscribe(eventsSubscription, map[string]any{"after": foreign.Events.ID})
			if code := c.errorCode(id); code != "NOT_FOUND" {
				t.Errorf("after a foreign event: %s, want NOT_FOUND", code)
			}
		})
	}
}

// TestMessageAddedOverWebSocket: a human's reply reaches a messageAdded
// subscriber over both subprotocols, and a conversation of another
// workspace is NOT_FOUND.
func TestMessageAddedOverWebSocket(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	for _, proto := range []string{transportWS, legacyWS} {
		t.Run(proto, func(t *testing.T) {
			acc := newAccount(t, a, "Acme Corporation")
			other := newAccount(t, a, "Other Inc")
			conv := startConversation(t, base, acc, "Hi").StartConversation.Conversation.UUID
			c, ack := dialWS(t, base, proto, auth(acc.Token))
			expectAck(t, ack)
			c.subscribe(`subscription($id: ID!) { messageAdded(conversationUuid: $id) {
				id content type responderType senderName responder { uuid } } }`, map[string]any{"id": conv})

			// The subscription streams from the moment the server registers
			// it, which the client cannot observe: reply every 250 ms until
			// a reply arrives.
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					res := gql(t, base, acc.Token, `mutation($id: ID!) { replyToConversation(input: {conversationUuid: $id, content: "A human is here"}) { message { id } } }`,
						map[string]any{"id": conv})
					if len(res.Errors) > 0 {
						t.Errorf("reply: %+v", res.Errors)
						return
					}
					select {
					case <-done:
						return
					case <-time.After(250 * time.Millisecond):
					}
				}
			}()
			var got struct {
				MessageAdded struct {
					ID, Content, Type, ResponderType, SenderName string
					Responder                                    struct{ UUID string }
				}
			}
			c.data(&got)
			close(done)
			wg.Wait()
			m := got.MessageAdded
			if m.Content != "A human is here" || m.Type != "AGENT" || m.ResponderType != "HUMAN_ASSISTANT" ||
				m.Responder.UUID != acc.UserID || m.SenderName != "Test User" {
				t.Errorf("message %+v", m)
			}

			oc, ack := dialWS(t, base, proto, auth(other.Token))
			expectAck(t, ack)
			id := oc.subscribe(`subscription($id: ID!) { messageAdded(conversationUuid: $id) { id } }`, map[string]any{"id": conv})
			if code := oc.errorCode(id); code != "NOT_FOUND" {
				t.Errorf("another workspace's conversation: %s, want NOT_FOUND", code)
			}
		})
	}
}

// TestWebSocketAuthentication: the token goes in the connection_init
// payload; without a valid one the connection is refused, and a token
// without the field's scope gets FORBIDDEN.
func TestWebSocketAuthentication(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	for _, proto := range []string{transportWS, legacyWS} {
		t.Run(proto, func(t *testing.T) {
			for name, payload := range map[string]any{
				"no payload":     nil,
				"no token":       map[string]any{},
				"bad token":      auth("not-a-token"),
				"not bearer":     map[string]any{"Authorization": "Basic " + acc.Token},
				"revoked format": auth(acc.Token + "x"),
			} {
				_, m := dialWS(t, base, proto, payload)
				if m.Type == "connection_ack" {
					t.Errorf("%s: acknowledged", name)
				}
			}
			noScope := newToken(t, a, acc.UserID, assistloop.ScopeReadMessages)
			c, ack := dialWS(t, base, proto, auth(noScope))
			expectAck(t, ack)
			id := c.subscribe(`subscription { events { id } }`, nil)
			if code := c.errorCode(id); code != "FORBIDDEN" {
				t.Errorf("events without read:conversations: %s, want FORBIDDEN", code)
			}
		})
	}
}

// TestWebSocketKeepAlive: both subprotocols get keep-alive messages, and
// a graphql-transport-ws peer that stops answering pings is disconnected.
func TestWebSocketKeepAlive(t *testing.T) {
	a := newApp(t, testConfig(t))
	srv := httptest.NewServer(graph.NewHandler(a.Resolver, graph.Options{Tokens: a.Tokens, KeepAlive: 50 * time.Millisecond}))
	defer srv.Close()
	acc := newAccount(t, a, "Acme Corporation")
	for _, proto := range []string{transportWS, legacyWS} {
		t.Run(proto, func(t *testing.T) {
			c, ack := dialWS(t, srv.URL, proto, auth(acc.Token))
			expectAck(t, ack)
			c.subscribe(`subscription { events(types: [HUMAN_HANDOFF_REQUIRED]) { id } }`, nil)
			// read answers pings; nothing but keep-alives arrives, so it
			// returns only when the connection closes. Stop after a few.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for c.pings < 3 {
				_, b, err := c.conn.Read(ctx)
				if err != nil {
					t.Fatalf("after %d keep-alives: %v", c.pings, err)
				}
				var m wsMessage
				_ = json.Unmarshal(b, &m)
				switch m.Type {
				case "ka":
					c.pings++
				case "ping":
					c.pings++
					c.send(wsMessage{Type: "pong"})
				default:
					t.Fatalf("unexpected %s", b)
				}
			}
		})
	}
	t.Run("unanswered pings", func(t *testing.T) {
		c, ack := dialWS(t, srv.URL, transportWS, auth(acc.Token))
		expectAck(t, ack)
		c.subscribe(`subscription { events(types: [HUMAN_HANDOFF_REQUIRED]) { id } }`, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			_, _, err := c.conn.Read(ctx) // pings ignored
			if ctx.Err() != nil {
				t.Fatal("a peer ignoring pings was not disconnected")
			}
			if err != nil {
				return
			}
		}
	})
}

// liveStreams counts the goroutines serving subscriptions.
func liveStreams() int {
	return goroutines("postgres.(*EventService).StreamEvents", "postgres.(*MessageService).SubscribeMessages",
		"transport.(*wsConnection)")
}

// goroutines counts the goroutines whose stack mentions any of funcs.
func goroutines(funcs ...string) int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range funcs {
			if strings.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n
}

// TestWebSocketDisconnectLeavesNoGoroutine: clients vanishing without a
// goodbye leave no stream goroutine behind.
func TestWebSocketDisconnectLeavesNoGoroutine(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	conv := startConversation(t, base, acc, "Hi").StartConversation.Conversation.UUID
	before := liveStreams()
	var clients []*wsClient
	for i := 0; i < 4; i++ {
		for _, proto := range []string{transportWS, legacyWS} {
			c, ack := dialWS(t, base, proto, auth(acc.Token))
			expectAck(t, ack)
			c.subscribe(`subscription { events { id } }`, nil)
			var ev struct{ Events struct{ ID string } }
			c.data(&ev)
			c.subscribe(`subscription($id: ID!) { messageAdded(conversationUuid: $id) { id } }`, map[string]any{"id": conv})
			clients = append(clients, c)
		}
	}
	eventually(t, "the streams to start", func() bool { return liveStreams() >= before+8*3 })
	for _, c := range clients {
		c.conn.CloseNow() // no close frame, no complete: the client just goes away
	}
	eventually(t, "the stream goroutines to end", func() bool { return liveStreams() <= before })
}
