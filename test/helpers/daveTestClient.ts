import * as dgram from 'node:dgram';
import { DAVESession } from '@snazzah/davey';
import {
  createTransportCipher,
  encodeIpDiscoveryRequest,
  encodeRtpHeader,
  parseIpDiscovery,
  type TransportCipher,
} from '../../src/protocol';
import type { VoiceServer } from '../../src/testing';
import { RawGatewayClient, type RawFrame } from './rawGatewayClient';

/** davey's `MediaType.AUDIO` (a `const enum` in its typings). */
const AUDIO = 0;

export interface DaveTestClientOptions {
  userId: string;
  serverId: string;
  channelId?: string;
  /** `max_dave_protocol_version` (default 1; 0 = a client without DAVE). */
  dave?: number;
}

/**
 * A DAVE client for emulator tests: a raw gateway client driving an `@snazzah/davey`
 * `DAVESession` the way @discordjs/voice 0.19 does (its DAVESession wrapper and op handling):
 * key package on op 4 / op 24 epoch 1 / after op 31, proposals → commit(+welcome), op 23 after
 * a processed commit or welcome, op 31 + reset + new key package when one fails.
 */
export class DaveTestClient {
  session: DAVESession | null = null;
  /** Protocol version in use (changes on op 22 / op 24). */
  protocolVersion = 0;
  readonly connected = new Set<string>();
  readonly ssrcToUser = new Map<number, string>();
  readonly pendingTransitions = new Map<number, number>();
  /** Transition ids executed (op 22, or op 21/29/30 with id 0). */
  readonly executed: number[] = [];
  /** Op 28 payloads sent. */
  readonly commitsSent: Buffer[] = [];
  /** Op 31 transition ids sent. */
  readonly invalidSent: number[] = [];
  /** Errors davey threw (besides the op 31 recovery path). */
  readonly errors: string[] = [];
  readonly log: string[] = [];
  /** Decrypted media received: user id → Opus frames. */
  readonly received = new Map<string, Buffer[]>();
  decryptFailures = 0;
  ssrc = 0;
  cipher: TransportCipher | null = null;
  udp: dgram.Socket | null = null;
  private serverUdp: { ip: string; port: number } | null = null;
  private sequence = 1000;
  private timestamp = 5000;
  private nonce = 0;
  readonly channelId: string;

  /** Highest server `seq` seen (JSON and binary frames), for RESUME. */
  lastSeq = -1;
  private creds: { serverId: string; sessionId: string; token: string } | null = null;

  /** The voice session id it identified with. */
  get sessionId(): string {
    return this.creds?.sessionId ?? '';
  }

  private constructor(
    public gw: RawGatewayClient,
    readonly opts: DaveTestClientOptions,
  ) {
    this.channelId = opts.channelId ?? opts.serverId;
    gw.onFrame = (f) => this.onFrame(f);
  }

  /** Reconnects and RESUMEs (op 7 with the last seq seen); the server replays what was missed. */
  async resume(server: VoiceServer): Promise<void> {
    const gw = await RawGatewayClient.connect(server.wsUrl);
    this.gw = gw;
    gw.onFrame = (f) => this.onFrame(f);
    gw.send(7, { ...{ server_id: this.creds!.serverId, session_id: this.creds!.sessionId, token: this.creds!.token }, seq_ack: this.lastSeq });
    await gw.waitFor(9);
  }

  get userId(): string {
    return this.opts.userId;
  }

  /** Registers a session, connects, identifies, does IP discovery and SELECT_PROTOCOL; resolves after op 4. */
  static async connect(server: VoiceServer, opts: DaveTestClientOptions): Promise<DaveTestClient> {
    const creds = {
      serverId: opts.serverId,
      userId: opts.userId,
      sessionId: `s-${opts.userId}-${Math.random().toString(36).slice(2)}`,
      token: `t-${opts.userId}`,
      channelId: opts.channelId,
    };
    server.registerSession(creds);
    const gw = await RawGatewayClient.connect(server.wsUrl);
    const c = new DaveTestClient(gw, opts);
    c.creds = creds;
    gw.send(0, {
      server_id: creds.serverId,
      user_id: creds.userId,
      session_id: creds.sessionId,
      token: creds.token,
      max_dave_protocol_version: opts.dave ?? 1,
    });
    const ready = (await gw.waitFor(2)).d as { ssrc: number; ip: string; port: number; modes: string[] };
    c.ssrc = ready.ssrc;
    c.serverUdp = { ip: ready.ip, port: ready.port };
    const udp = dgram.createSocket('udp4');
    c.udp = udp;
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const discovery = new Promise<{ address: string; port: number }>((resolve) => udp.once('message', (m) => resolve(parseIpDiscovery(m))));
    udp.send(encodeIpDiscoveryRequest(ready.ssrc), ready.port, ready.ip);
    const { address, port } = await discovery;
    udp.on('message', (m) => c.onUdp(m));
    gw.send(1, { protocol: 'udp', data: { address, port, mode: ready.modes[0] } });
    const desc = (await gw.waitFor(4)).d as { mode: string; secret_key: number[] };
    c.cipher = createTransportCipher(desc.mode, Uint8Array.from(desc.secret_key));
    return c;
  }

  get ready(): boolean {
    return this.session?.ready ?? false;
  }

  get privacyCode(): string {
    return this.session?.voicePrivacyCode ?? '';
  }

  private sendKeyPackage(): void {
    if (!this.session) return;
    this.gw.sendBinary(26, this.session.getSerializedKeyPackage());
  }

  /** (Re)creates the MLS session for the current protocol version and sends a key package (djs `reinit`). */
  private reinit(): void {
    if (this.protocolVersion > 0) {
      if (this.session) this.session.reinit(this.protocolVersion, this.userId, this.channelId);
      else this.session = new DAVESession(this.protocolVersion, this.userId, this.channelId);
      this.sendKeyPackage();
    } else if (this.session) {
      this.session.reset();
      this.session.setPassthroughMode(true, 10);
    }
  }

  private recover(transitionId: number, err: unknown): void {
    this.log.push(`recover ${transitionId}: ${String(err)}`);
    this.invalidSent.push(transitionId);
    this.gw.send(31, { transition_id: transitionId });
    this.reinit();
  }

  private execute(transitionId: number): void {
    const v = this.pendingTransitions.get(transitionId);
    if (v === undefined) return;
    this.pendingTransitions.delete(transitionId);
    this.protocolVersion = v;
    this.executed.push(transitionId);
  }

  private onFrame(f: RawFrame): void {
    const seq = f.json ? f.json.seq : f.binary.seq;
    if (typeof seq === 'number') this.lastSeq = seq;
    try {
      if (f.json) this.onJson(f.json.op, f.json.d as Record<string, unknown>);
      else this.onBinary(f.binary.op, f.binary.payload);
    } catch (err) {
      this.errors.push(`op ${f.json ? f.json.op : f.binary.op}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onJson(op: number, d: Record<string, unknown>): void {
    switch (op) {
      case 4:
        this.protocolVersion = Number(d.dave_protocol_version ?? 0);
        this.reinit();
        return;
      case 5:
        this.ssrcToUser.set(d.ssrc as number, d.user_id as string);
        return;
      case 11:
        for (const u of d.user_ids as string[]) this.connected.add(u);
        return;
      case 13:
        this.connected.delete(d.user_id as string);
        return;
      case 21: {
        const tid = d.transition_id as number;
        this.pendingTransitions.set(tid, d.protocol_version as number);
        this.log.push(`prepare_transition ${tid} v${String(d.protocol_version)}`);
        if (tid === 0) this.execute(0);
        else {
          if (d.protocol_version === 0) this.session?.setPassthroughMode(true, 24);
          this.gw.send(23, { transition_id: tid });
        }
        return;
      }
      case 22:
        this.log.push(`execute_transition ${String(d.transition_id)}`);
        this.execute(d.transition_id as number);
        return;
      case 24:
        this.log.push(`prepare_epoch ${String(d.epoch)} v${String(d.protocol_version)}`);
        if (d.epoch === 1) {
          this.protocolVersion = d.protocol_version as number;
          this.reinit();
        }
        return;
    }
  }

  private onBinary(op: number, payload: Buffer): void {
    switch (op) {
      case 25:
        this.session?.setExternalSender(payload);
        return;
      case 27: {
        if (!this.session) return;
        const { commit, welcome } = this.session.processProposals(payload[0], payload.subarray(1), [...this.connected]);
        if (commit) {
          const out = welcome ? Buffer.concat([commit, welcome]) : commit;
          this.commitsSent.push(out);
          this.gw.sendBinary(28, out);
        }
        return;
      }
      case 29:
      case 30: {
        if (!this.session) return;
        const tid = payload.readUInt16BE(0);
        try {
          if (op === 29) this.session.processCommit(payload.subarray(2));
          else this.session.processWelcome(payload.subarray(2));
        } catch (err) {
          this.recover(tid, err);
          return;
        }
        this.log.push(`${op === 29 ? 'commit' : 'welcome'} ${tid} -> epoch ${String(this.session.epoch)}`);
        if (tid === 0) this.executed.push(0);
        else {
          this.pendingTransitions.set(tid, this.protocolVersion);
          this.gw.send(23, { transition_id: tid });
        }
        return;
      }
    }
  }

  /** Sends op 5 and then each Opus frame, DAVE-encrypted when the session is ready, as RTP. */
  sendOpus(frames: Buffer[]): void {
    this.gw.send(5, { speaking: 1, delay: 0, ssrc: this.ssrc });
    for (const frame of frames) {
      const payload = this.protocolVersion > 0 && this.session?.ready ? this.session.encryptOpus(frame) : frame;
      const header = encodeRtpHeader({ sequence: this.sequence++ & 0xffff, timestamp: (this.timestamp += 960) >>> 0, ssrc: this.ssrc });
      this.nonce = (this.nonce + 1) >>> 0;
      this.udp!.send(this.cipher!.seal(header, payload, this.nonce), this.serverUdp!.port, this.serverUdp!.ip);
    }
  }

  /** Raw (transport-decrypted, not DAVE-decrypted) payloads received, by SSRC. */
  readonly rawPayloads: Buffer[] = [];

  private onUdp(msg: Buffer): void {
    if (msg.length <= 8 || !this.cipher) return;
    let opened;
    try {
      opened = this.cipher.open(msg);
    } catch {
      this.decryptFailures++;
      return;
    }
    this.rawPayloads.push(opened.payload);
    const user = this.ssrcToUser.get(opened.header.ssrc);
    if (!user || !this.session) return;
    try {
      const frame = this.session.decrypt(user, AUDIO, opened.payload);
      let list = this.received.get(user);
      if (!list) this.received.set(user, (list = []));
      list.push(frame);
    } catch (err) {
      this.decryptFailures++;
      this.log.push(`decrypt: ${String(err)}`);
    }
  }

  close(): void {
    this.gw.close();
    this.udp?.close();
  }
}
