import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { ErrorResponse } from '../types';

/**
 * A request the node refuses: answered with Lavalink's JSON error body (docs/api/rest.md
 * "Error Responses") and `status`.
 */
export class LavalinkHttpError extends Error {
  /** HTTP status code (400, 401, 403, 404, 405, 413, 500). */
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LavalinkHttpError';
    this.status = status;
  }
}

/** Largest request body accepted, bytes (a full-state player PATCH is a few KiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Headers every response carries (docs/api/index.md: `Lavalink-Api-Version`). */
export function baseHeaders(): Record<string, string> {
  return { 'Lavalink-Api-Version': '4' };
}

/** Sends `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...baseHeaders(), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Sends a plain-text body. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...baseHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** 204 No Content. */
export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, baseHeaders());
  res.end();
}

/** Lavalink's error body for `status` (`trace` only when the request asked with `?trace=true`). */
export function errorBody(status: number, message: string, path: string, trace?: string): ErrorResponse {
  return {
    timestamp: Date.now(),
    status,
    error: STATUS_CODES[status] ?? 'Error',
    ...(trace !== undefined ? { trace } : {}),
    message,
    path,
  };
}

/** Sends Lavalink's JSON error body. */
export function sendError(res: ServerResponse, status: number, message: string, path: string, trace?: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status, errorBody(status, message, path, trace));
}

/**
 * Reads and parses a JSON request body.
 * @throws {LavalinkHttpError} 400 for an empty or malformed body, 413 above {@link MAX_BODY_BYTES}.
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new LavalinkHttpError(413, `Request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new LavalinkHttpError(400, 'Required request body is missing');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LavalinkHttpError(400, `Malformed JSON request body: ${(err as Error).message}`);
  }
}

/** A plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
