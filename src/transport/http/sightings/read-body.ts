import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';

/**
 * Reads a request body as bytes with a size limit, failing with the same error objects
 * body-parser/raw-body raise (`type` entity.too.large, request.aborted, request.size.invalid),
 * so errors.ts renders them with the same status and sentence as before.
 *
 * Plain bodies are read here (raw-body's per-request work was ~10 % of the CPU per sighting);
 * compressed ones (gzip, deflate, br, or an unsupported coding answered 415) go to body-parser,
 * whose inflation and limits on the inflated size are not ours to re-implement.
 */
export type BodyReader = (req: IncomingMessage, res: ServerResponse) => Promise<Buffer>;

const EMPTY = Buffer.alloc(0);

export function createBodyReader(limit: number): BodyReader {
  const inflating = express.raw({ type: '*/*', limit });
  return (req, res) => {
    const coding = req.headers['content-encoding'];
    if (coding !== undefined && coding.toLowerCase() !== 'identity') {
      return new Promise((resolve, reject) => {
        inflating(req as express.Request, res as express.Response, (err?: unknown) => {
          if (err) reject(err);
          else resolve(Buffer.isBuffer((req as { body?: unknown }).body) ? ((req as { body?: unknown }).body as Buffer) : EMPTY);
        });
      });
    }
    return readPlain(req, limit);
  };
}

function readPlain(req: IncomingMessage, limit: number): Promise<Buffer> {
  const header = req.headers['content-length'];
  const length = header === undefined ? undefined : Number.parseInt(header, 10);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let failure: ParserError | undefined;
    // Like body-parser, a refused body is still read off to its end before the answer, so the
    // connection stays usable and the client is not cut off mid-send.
    if (length !== undefined && length > limit) failure = parserError(413, 'entity.too.large', 'request entity too large', limit);
    const onData = (chunk: Buffer): void => {
      if (failure) return;
      received += chunk.length;
      if (received > limit) {
        failure = parserError(413, 'entity.too.large', 'request entity too large', limit);
        chunks.length = 0;
      } else chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (failure) reject(failure);
      else if (length !== undefined && !Number.isNaN(length) && received !== length) reject(parserError(400, 'request.size.invalid', 'request size did not match content length'));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onClose = (): void => {
      cleanup();
      if (!req.complete) reject(parserError(400, 'request.aborted', 'request aborted'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(Object.assign(parserError(400, 'request.error', err.message), { cause: err }));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onError);
  });
}

/** The shape http-errors gives body-parser's errors; `expose` marks a 4xx that may be shown. */
interface ParserError extends Error {
  status: number;
  statusCode: number;
  type: string;
  expose: boolean;
  limit?: number;
}

function parserError(status: number, type: string, message: string, limit?: number): ParserError {
  return Object.assign(new Error(message), { status, statusCode: status, type, expose: true, ...(limit === undefined ? {} : { limit }) });
}
