package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient speaks one GraphQL WebSocket subprotocol to the real router.
type wsClient struct {
	t        *testing.T
	conn     *websocket.Conn
	protocol string
}

// protocol message types: graphql-transport-ws, then legacy graphql-ws.
var wsTypes = map[string]map[string]string{
	"graphql-transport-ws": {"subscribe": "subscribe", "next": "next", "stop": "complete"},
	"graphql-ws":           {"subscribe": "start", "next": "data", "stop": "stop"},
}

func dialWS(t *testing.T, ctx context.Context, ta *testApp, protocol string, initPayload map[string]any) (*wsClient, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(ta.URL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, conn: conn, protocol: protocol}
	t.Cleanup(func() { conn.CloseNow() })
	c.send(ctx, map[string]any{"type": "connection_init", "payload": initPayload})
	for {
		msg, err := c.read(ctx)
		if err != nil {
			return c, err
		}
		switch msg["type"] {
		case "connection_ack":
			return c, nil
		case "ka", "ping":
			continue
		default:
			return c, errorFromMessage(msg)
		}
	}
}

type wsError struct{ msg map[string]any }

func (e wsError) Error() string { b, _ := json.Marshal(e.msg); return string(b) }

func errorFromMessage(m map[string]any) error { return wsError{m} }

func (c *wsClient) send(ctx context.Context, v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) read(ctx context.Context) (map[string]any, error) {
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *wsClient) subscribe(ctx context.Context, id, query string, vars map[string]any) {
	c.send(ctx, map[string]any{"id": id, "type": wsTypes[c.protocol]["subscribe"],
		"payload": map[string]any{"query": query, "variables": vars}})
}

// next returns the data of the next result for id, skipping keep-alives.
func (c *wsClient) next(ctx context.Context, id string) (json.RawMessage, error) {
	for {
		m, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		switch m["type"] {
		case "ka", "ping", "pong":
			continue
		case wsTypes[c.protocol]["next"]:
			if m["id"] != id {
				continue
			}
			payload, _ := json.Marshal(m["payload"])
			var p struct {
				Data   json.RawMessage `json:"data"`
				Errors []gqlError      `json:"errors"`
			}
			_ = json.Unmarshal(payload, &p)
			if len(p.Errors) > 0 {
				return nil, wsError{m}
			}
			return p.Data, nil
		default:
			return nil, wsError{m}
		}
	}
}

func TestMessageAddedOverWebSocket(t *testing.T) {
	ta := newTestApp(t, nil)
	a := ta.newAccount(t, "ws")
	for _, protocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(protocol, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conv := ta.start(t, a, "hello over "+protocol)
			c, err := dialWS(t, ctx, ta, protocol, map[string]any{"Authorization": "Bearer " + a.token})
			if err != nil {
				t.Fatal(err)
			}
			c.subscribe(ctx, "1", `subscription($c: ID!) { messageAdded(conversationUuid: $c) {
				id content type responderType senderName responder { uuid } } }`, map[string]any{"c": conv})

			// The subscription is live once the server has registered it,
			// which the client cannot observe: reply every 250 ms until one
			// arrives.
			done := make(chan struct{})
			var wg sync.WaitGroup
			defer func() { close(done); wg.Wait() }()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r := ta.gql(t, a.token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "A human is here"}) { message { id } } }`,
						map[string]any{"c": conv})
					if len(r.Errors) > 0 {
						t.Errorf("reply: %+v", r.Errors)
						return
					}
					select {
					case <-done:
						return
					case <-time.After(250 * time.Millisecond):
					}
				}
			}()
			data, err := c.next(ctx, "1")
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				MessageAdded struct {
					ID, Content, Type, SenderName string
					ResponderType                 string
					Responder                     struct{ UUID string }
				}
			}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			m := got.MessageAdded
			if m.Content != "A human is here" || m.Type != "AGENT" || m.ResponderType != "HUMAN_ASSISTANT" || m.Responder.UUID != a.user.ID || m.SenderName != "ws" {
				t.Errorf("messageAdded = %+v", m)
			}
			c.send(ctx, map[string]any{"id": "1", "type": wsTypes[protocol]["stop"]})
		})
	}
}

func TestWebSocketAuthentication(t *testing.T) {
	ta := newTestApp(t, nil)
	a := ta.newAccount(t, "wsauth")
	b := ta.newAccount(t, "wsother")
	conv := ta.start(t, a, "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for name, payload := range map[string]map[string]any{
		"no payload": nil,
		"bad token":  {"Authorization": "Bearer alat_nope"},
		"not bearer": {"Authorization": a.token},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := dialWS(t, ctx, ta, "graphql-transport-ws", payload); err == nil {
				t.Error("connection acknowledged without a valid token")
			}
		})
	}

	// Another workspace cannot subscribe to the conversation.
	c, err := dialWS(t, ctx, ta, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + b.token})
	if err != nil {
		t.Fatal(err)
	}
	c.subscribe(ctx, "x", `subscription($c: ID!) { messageAdded(conversationUuid: $c) { id } }`, map[string]any{"c": conv})
	_, err = c.next(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("foreign subscription: %v, want NOT_FOUND", err)
	}
}
