/**
 * Migration 5: chat events handled once across instances. In websocket mode every instance has
 * its own Webex device, so every instance receives every message and card click; the first to
 * insert the event's id answers it, the others stay silent. Rows older than a day are pruned by
 * the leader's retention run (Webex does not redeliver that late).
 * NEVER edit after release; add the next number instead.
 */
export const sql = `
CREATE TABLE chat_claims (
  event_id text PRIMARY KEY,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  instance text NOT NULL
);
CREATE INDEX chat_claims_by_age ON chat_claims (claimed_at);
`;
