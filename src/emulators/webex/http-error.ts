import type { Response } from 'express';
import { trackingId } from './ids.js';

/** An error the emulator answers with Webex's error body `{message, errors:[{description}], trackingId}`. */
export class WebexHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function sendWebexError(res: Response, status: number, message: string, retryAfterSeconds?: number): void {
  const id = trackingId();
  res.setHeader('trackingid', id);
  if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(status).json({ message, errors: [{ description: message }], trackingId: id });
}
