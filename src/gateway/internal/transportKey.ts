import type { VoiceTransport } from '../connectVoice';

/** Where an in-process transport keeps its secret key for the driver (never enumerable, never in `toJSON`). */
const keys = new WeakMap<VoiceTransport, Uint8Array>();

/** Records the secret key of `transport` (connectVoice, in-process). */
export function setTransportKey(transport: VoiceTransport, key: Uint8Array): void {
  keys.set(transport, key);
}

/** The secret key of an in-process transport (the driver thread hands it to the main thread's transport view). */
export function transportKeyOf(transport: VoiceTransport): Uint8Array | undefined {
  return keys.get(transport);
}
