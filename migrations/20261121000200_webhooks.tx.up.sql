-- Webhook subscriptions: Make instant triggers. The secret signs every
-- delivery, so it is stored as is (it must be read back), unlike tokens.
CREATE TABLE webhook_subscriptions (
    id              text PRIMARY KEY,                     -- whk_…
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id        text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    user_id         text REFERENCES users (id) ON DELETE SET NULL, -- who subscribed
    target_url      text NOT NULL,
    event           text NOT NULL CHECK (event IN ('new_conversation', 'human_handoff_required')),
    platform        text NOT NULL,
    external_id     text,
    secret          text NOT NULL,                        -- whsec_<base64 of 32 random bytes>
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'unsubscribed')),
    disabled_at     timestamptz,
    disabled_reason text,
    unsubscribed_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The fan-out looks up the active subscriptions of an event's agent and type.
CREATE INDEX webhook_subscriptions_fanout_idx ON webhook_subscriptions (agent_id, event)
    WHERE status = 'active';
CREATE INDEX webhook_subscriptions_organization_idx ON webhook_subscriptions (organization_id, created_at DESC, id DESC)
    WHERE status <> 'unsubscribed';

-- One delivery per event and subscription: the fan-out inserts with ON
-- CONFLICT DO NOTHING, so replaying events never duplicates a delivery.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscription_id  text NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    organization_id  text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,          -- attempts made so far
    max_attempts     integer NOT NULL,                    -- 1 + 3 retries; a redelivery adds another round
    next_attempt_at  timestamptz,                         -- due time while pending
    -- A worker claims a due delivery by setting a lease; it sends outside
    -- any transaction and records the attempt only while it still holds
    -- the lease (lease_token), so no two workers send it at once.
    leased_until     timestamptz,
    lease_token      uuid,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at DESC, id DESC);

-- Every attempt, successful or not.
CREATE TABLE webhook_delivery_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number          integer NOT NULL,
    attempted_at    timestamptz NOT NULL,
    latency_ms      integer NOT NULL,
    status_code     integer,                              -- NULL when no response arrived
    error           text,                                 -- NULL on success
    next_attempt_at timestamptz                           -- the retry this failure scheduled
);
CREATE INDEX webhook_delivery_attempts_delivery_idx ON webhook_delivery_attempts (delivery_id, number);

-- Where the fan-out worker stands in the event stream: the last event whose
-- deliveries it created.
CREATE TABLE webhook_cursors (
    name       text PRIMARY KEY,
    event_id   uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);
