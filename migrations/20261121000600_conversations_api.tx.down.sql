DROP INDEX IF EXISTS conversations_deleted_idx;
DROP INDEX IF EXISTS conversations_assigned_to_idx;
DROP INDEX IF EXISTS conversations_org_created_idx;
DROP INDEX IF EXISTS conversations_org_last_message_idx;
DROP INDEX IF EXISTS conversations_search_idx;
DROP TRIGGER IF EXISTS chat_users_search ON chat_users;
DROP TRIGGER IF EXISTS messages_search_sent ON messages;
DROP TRIGGER IF EXISTS messages_search_insert ON messages;
DROP TRIGGER IF EXISTS conversations_search_init ON conversations;
DROP FUNCTION IF EXISTS conversations_search_chat_user();
DROP FUNCTION IF EXISTS conversations_search_add_message();
DROP FUNCTION IF EXISTS conversations_search_init();
DROP FUNCTION IF EXISTS chat_user_search_vector(text, text);
DROP TABLE IF EXISTS message_transcriptions;
DROP INDEX IF EXISTS attachments_unclaimed_idx;
ALTER TABLE attachments DROP COLUMN IF EXISTS uploaded_by, DROP COLUMN IF EXISTS conversation_id;
DROP INDEX IF EXISTS messages_scheduled_due_idx;
ALTER TABLE messages
    DROP CONSTRAINT IF EXISTS messages_schedule_check,
    DROP COLUMN IF EXISTS lease_token,
    DROP COLUMN IF EXISTS leased_until,
    DROP COLUMN IF EXISTS cancelled_at,
    DROP COLUMN IF EXISTS sent_at,
    DROP COLUMN IF EXISTS scheduled_at,
    DROP COLUMN IF EXISTS status_updated_at,
    DROP COLUMN IF EXISTS error_message,
    DROP COLUMN IF EXISTS error_type,
    DROP COLUMN IF EXISTS error_code,
    DROP COLUMN IF EXISTS channel;
ALTER TABLE conversations
    DROP COLUMN IF EXISTS search_vector,
    DROP COLUMN IF EXISTS last_message_at,
    DROP COLUMN IF EXISTS unread_count,
    DROP COLUMN IF EXISTS starred,
    DROP COLUMN IF EXISTS assigned_to;
