/**
 * Migration 12: how far an outbox item sent as several messages got (a hunt's threat with several
 * targets is a card per target). Written after each message but the last, outside the sending
 * transaction (which a crash rolls back), so the instance that sends the item next (this one after
 * a failure, another after a crash) posts only the rest. Deleted with the item.
 * No foreign key on purpose: checking one would wait for the lock the sending transaction holds
 * on the item's row, and that transaction is the one waiting for this write.
 * NEVER edit after release; add the next number.
 */
export const sql = `
CREATE TABLE outbox_parts (
  item_id text PRIMARY KEY,
  sent    integer NOT NULL CHECK (sent > 0)
);
`;
