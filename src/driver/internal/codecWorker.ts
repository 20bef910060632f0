/**
 * A codec thread: libopus encoders for `opusEncode` streams of the main thread (see
 * `CodecPool`). Each batch of operations is answered with one batch of results, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { OpusEncoder } from '@discordjs/opus';
import { createOpusEncoder, errorMessage } from '../../operators/internal/opusEncoderSettings';
import { CONTROL_BUSY, CONTROL_STOP, type CodecBatch, type CodecOp, type CodecResult } from './codecProtocol';

const port = parentPort;
if (!port) throw new Error('codecWorker runs in a worker thread');

const encoders = new Map<number, OpusEncoder>();
const control = new Int32Array((workerData as { control: SharedArrayBuffer }).control);

/** Marks the thread busy in native code, or parks it for good if the main thread is stopping it. */
function enterNative(): void {
  Atomics.store(control, CONTROL_BUSY, 1);
  if (Atomics.load(control, CONTROL_STOP) !== 0) {
    leaveNative();
    for (;;) Atomics.wait(control, CONTROL_STOP, 1); // until terminated
  }
}

function leaveNative(): void {
  Atomics.store(control, CONTROL_BUSY, 0);
  Atomics.notify(control, CONTROL_BUSY);
}

port.on('message', (batch: CodecBatch<CodecOp>) => {
  const results: CodecResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const op of batch.items) {
    switch (op.t) {
      case 'open':
        enterNative();
        try {
          const encoder = createOpusEncoder(op.settings);
          for (const frame of op.prime) encoder.encode(Buffer.from(frame));
          encoders.set(op.id, encoder);
        } catch (err) {
          results.push({ t: 'error', id: op.id, phase: 'open', message: errorMessage(err) });
        } finally {
          leaveNative();
        }
        break;
      case 'enc': {
        const encoder = encoders.get(op.id);
        if (!encoder) break; // closed, or failed earlier (reported then)
        const packets: Buffer[] = [];
        let failure: string | null = null;
        for (const frame of op.frames) {
          enterNative();
          try {
            packets.push(encoder.encode(Buffer.from(frame)));
          } catch (err) {
            failure = errorMessage(err);
            break;
          } finally {
            leaveNative();
          }
        }
        if (packets.length > 0) {
          // One fresh (never pooled) ArrayBuffer for the batch: it can be transferred.
          let total = 0;
          for (const p of packets) total += p.length;
          const data = new ArrayBuffer(total);
          const bytes = new Uint8Array(data);
          const lengths: number[] = [];
          let offset = 0;
          for (const p of packets) {
            bytes.set(p, offset);
            offset += p.length;
            lengths.push(p.length);
          }
          results.push({ t: 'packets', id: op.id, data, lengths });
          transfer.push(data);
        }
        if (failure !== null) {
          encoders.delete(op.id);
          results.push({ t: 'error', id: op.id, phase: 'encode', message: failure });
        }
        break;
      }
      case 'close':
        encoders.delete(op.id);
        break;
      case 'stats':
        results.push({ t: 'stats', req: op.req, encoders: encoders.size });
        break;
    }
  }
  if (results.length > 0) port.postMessage({ items: results } satisfies CodecBatch<CodecResult>, transfer);
});

port.postMessage({ items: [{ t: 'ready' }] } satisfies CodecBatch<CodecResult>);
