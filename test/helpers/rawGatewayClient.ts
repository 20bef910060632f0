import WebSocket from 'ws';
import { encodeClientBinaryFrame, parseServerBinaryFrame } from '../../src/protocol';

export interface RawMessage {
  op: number;
  d: unknown;
  seq?: number;
}

/** A server binary frame `[u16 seq][u8 op][payload]`, parsed. */
export interface RawBinaryFrame {
  seq: number;
  op: number;
  payload: Buffer;
}

/** One server frame in arrival order: JSON or binary. */
export type RawFrame = { json: RawMessage; binary?: undefined } | { json?: undefined; binary: RawBinaryFrame };

/** A bare WebSocket client for poking the emulator's voice gateway in tests. */
export class RawGatewayClient {
  readonly messages: RawMessage[] = [];
  readonly binary: Buffer[] = [];
  closeCode: number | null = null;
  /** Called for every frame, JSON and binary, strictly in arrival order. */
  onFrame: ((frame: RawFrame) => void) | null = null;
  private waiters: Array<() => void> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        this.binary.push(buf);
        this.onFrame?.({ binary: parseServerBinaryFrame(buf) });
      } else {
        const msg = JSON.parse(buf.toString()) as RawMessage;
        this.messages.push(msg);
        this.onFrame?.({ json: msg });
      }
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<RawGatewayClient> {
    const ws = new WebSocket(url, options);
    const client = new RawGatewayClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(op: number, d: unknown): void {
    this.ws.send(JSON.stringify({ op, d }));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Sends a client binary frame `[u8 op][payload]`. */
  sendBinary(op: number, payload: Uint8Array): void {
    this.ws.send(encodeClientBinaryFrame(op, payload));
  }

  /** Resolves with the first binary frame with `op` (after `from` binary frames), or throws after `timeoutMs`. */
  waitForBinary(op: number, timeoutMs = 3000, from = 0): Promise<RawBinaryFrame> {
    return this.until(
      () => this.binary.slice(from).map((b) => parseServerBinaryFrame(b)).find((f) => f.op === op),
      timeoutMs,
      `binary op ${op}`,
    );
  }

  /** Resolves with the first message with `op` (after `from` messages), or throws after `timeoutMs`. */
  waitFor(op: number, timeoutMs = 3000, from = 0): Promise<RawMessage> {
    return this.until(() => this.messages.slice(from).find((m) => m.op === op), timeoutMs, `op ${op}`);
  }

  waitForClose(timeoutMs = 5000): Promise<number> {
    return this.until(() => this.closeCode ?? undefined, timeoutMs, 'close');
  }

  close(): void {
    this.ws.close(1000);
  }
}
