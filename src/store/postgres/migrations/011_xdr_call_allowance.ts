/**
 * Migration 11: the XDR mirror's allowance (XDR_MIRROR_CALLS_PER_HOUR) shared by every instance.
 * XDR's budget is the organisation's, not an instance's: with one bucket per instance, N instances
 * could spend N times the share. One row: the bucket's balance when it was last refilled
 * (`tokens` NULL: never used, so full), and until when XDR asked everyone to wait (a 429's
 * Retry-After seen by any instance). Instances lease a few calls at a time (store/postgres/call-allowance.ts).
 * NEVER edit after release; add the next number.
 */
export const sql = `
CREATE TABLE xdr_call_allowance (
  id          smallint PRIMARY KEY CHECK (id = 1),
  tokens      double precision,
  refilled_at timestamptz,
  held_until  timestamptz NOT NULL DEFAULT to_timestamp(0)
);
INSERT INTO xdr_call_allowance (id) VALUES (1);
`;
