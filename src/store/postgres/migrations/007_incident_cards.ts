/**
 * Migration 7: the Webex message id of an incident's opening card, in its own table. Written by
 * whichever instance delivered the card, it used to be an UPDATE of the incident row, and so
 * waited for every counting batch that held that row. A row here only takes a key-share lock on
 * the incident, which counting (FOR NO KEY UPDATE) does not block. Reads take this id first, then
 * the old column (kept: imported lowdb state and earlier cards are there).
 * NEVER edit after release; add the next number instead.
 */
export const sql = `
CREATE TABLE incident_cards (
  incident_id text PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
  message_id  text NOT NULL
);
`;
