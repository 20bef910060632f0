#!/usr/bin/env node
// A reference voice client for conformance tests: @discordjs/voice@0.19, run as a child process.
//
//   NODE_TLS_REJECT_UNAUTHORIZED=0 node [--import ./test/conformance/blockSodium.mjs] \
//     test/conformance/djsClient.js '<json config>'
//
// The JSON config comes from argv[2] or, if absent, the env var DJS_CLIENT_CONFIG:
//   endpoint   "127.0.0.1:PORT" (no scheme; @discordjs/voice connects to wss://<endpoint>?v=8)
//   guildId, channelId, userId, sessionId, token
//   action     "play":   { frequency (Hz, default 440), durationMs (default 1000), amplitude (default 0.5) }
//              "listen": { listenUserId, listenMs (max time listening), idleMs (end this long after
//                          the last packet once audio arrived, default 600), outFile (decoded PCM,
//                          s16le 48 kHz stereo) }
//   timeoutMs  hard limit for the whole run (default 20000)
//   waitForDaveMs  after Ready, wait up to this long for a DAVE voice privacy code (an established
//              E2EE group) before the action; emits {"event":"dave", privacyCode, waitedMs}
//   debug      forward @discordjs/voice debug lines as {"event":"debug"} lines (default false)
//
// Output: one JSON object per line on stdout ({"event": ...}). Exit 0 on success, 1 on error,
// 2 on timeout. It only speaks wss:// with the emulator's self-signed certificate, so run it
// with NODE_TLS_REJECT_UNAUTHORIZED=0.
'use strict';

const fs = require('node:fs');
const { Readable } = require('node:stream');

function emit(event, data) {
  process.stdout.write(`${JSON.stringify({ event, t: Math.round(performance.now()), ...data })}\n`);
}

function fail(code, message) {
  emit('error', { message });
  process.exit(code);
}

let config;
try {
  const raw = process.argv[2] ?? process.env.DJS_CLIENT_CONFIG;
  if (!raw) throw new Error('no config (argv[2] or DJS_CLIENT_CONFIG)');
  config = JSON.parse(raw);
} catch (err) {
  fail(1, `bad config: ${err instanceof Error ? err.message : String(err)}`);
}

const timeoutMs = config.timeoutMs ?? 20000;
setTimeout(() => fail(2, `timeout after ${timeoutMs} ms`), timeoutMs).unref();
process.on('uncaughtException', (err) => fail(1, `uncaught: ${err && err.stack ? err.stack : String(err)}`));
process.on('unhandledRejection', (err) => fail(1, `unhandled rejection: ${err && err.stack ? err.stack : String(err)}`));

const voice = require('@discordjs/voice');
const { OpusEncoder } = require('@discordjs/opus');

const SILENCE_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);

/** s16le 48 kHz stereo sine, same formula as rxvoice's generateTone. */
function tone(frequency, durationMs, amplitude) {
  const frames = Math.round((durationMs * 48000) / 1000);
  const out = Buffer.alloc(frames * 4);
  const step = (2 * Math.PI * frequency) / 48000;
  for (let i = 0; i < frames; i++) {
    const s = Math.max(-32768, Math.min(32767, Math.round(amplitude * 32767 * Math.sin(step * i))));
    out.writeInt16LE(s, i * 4);
    out.writeInt16LE(s, i * 4 + 2);
  }
  return out;
}

/**
 * A hand-written adapter, standing in for discord.js's guild voice adapter. When @discordjs/voice
 * sends the op 4 VOICE_STATE_UPDATE payload (join), it answers like Discord's main gateway would:
 * VOICE_STATE_UPDATE first, then VOICE_SERVER_UPDATE (the other order leaves the connection in
 * `signalling` for good).
 */
function adapterCreator(methods) {
  return {
    sendPayload(payload) {
      emit('adapter-send', { op: payload.op, channelId: payload.d ? payload.d.channel_id : undefined });
      if (payload.op !== 4 || !payload.d || payload.d.channel_id === null) return true;
      setImmediate(() => {
        methods.onVoiceStateUpdate({
          guild_id: config.guildId,
          channel_id: payload.d.channel_id,
          user_id: config.userId,
          session_id: config.sessionId,
          deaf: false,
          mute: false,
          self_deaf: Boolean(payload.d.self_deaf),
          self_mute: Boolean(payload.d.self_mute),
          self_video: false,
          suppress: false,
          request_to_speak_timestamp: null,
        });
        methods.onVoiceServerUpdate({ token: config.token, guild_id: config.guildId, endpoint: config.endpoint });
      });
      return true;
    },
    destroy() {},
  };
}

/** Which XChaCha library @discordjs/voice loaded, as seen by blockSodium.mjs (null without the hook). */
function cryptoLibReport() {
  const log = globalThis.__blockSodium;
  const sodiumNativeRequired = Object.keys(require.cache).some((k) => k.includes(`${require('node:path').sep}sodium-native${require('node:path').sep}`));
  if (!log) return { hook: false, sodiumNativeRequired };
  // Only what @discordjs/voice itself asked for (the probe below imports noble too).
  const byDjs = (entries) => entries.filter((e) => typeof e.from === 'string' && e.from.includes('/@discordjs/voice/')).map((e) => e.specifier);
  return { hook: true, blocked: byDjs(log.blocked), resolved: byDjs(log.resolved), sodiumNativeRequired };
}

/**
 * @discordjs/voice loads its XChaCha20-Poly1305 library with un-awaited dynamic imports when it
 * is required; until they settle its encrypt/decrypt functions throw "Cannot play audio as no
 * valid encryption package is installed". Against the local emulator the connection can be ready
 * before that (seen under load), so wait until its own encrypt path works. The probe goes through
 * the exported Networking.prototype.encryptOpusPacket (it uses only its arguments) and checks the
 * result against @noble/ciphers. Only called with blockSodium.mjs (with sodium-native@5 the probe
 * itself would crash).
 */
async function waitForXChaCha() {
  const { xchacha20poly1305 } = await import('@noble/ciphers/chacha.js');
  const started = performance.now();
  const key = new Uint8Array(32).fill(7);
  const aad = Buffer.from('rxvoice-probe');
  const plain = Buffer.from([1, 2, 3]);
  for (;;) {
    const connectionData = {
      secretKey: key,
      encryptionMode: 'aead_xchacha20_poly1305_rtpsize',
      nonce: 0,
      nonceBuffer: Buffer.alloc(24),
    };
    try {
      const [sealed] = voice.Networking.prototype.encryptOpusPacket.call(null, plain, connectionData, aad, undefined);
      const opened = xchacha20poly1305(key, connectionData.nonceBuffer, aad).decrypt(sealed);
      if (!Buffer.from(opened).equals(plain)) throw new Error('XChaCha probe: round trip mismatch');
      return Math.round(performance.now() - started);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('Cannot play audio as no valid encryption package')) throw err;
      if (performance.now() - started > 5000) throw new Error('XChaCha library not loaded after 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function play(connection) {
  const frequency = config.frequency ?? 440;
  const durationMs = config.durationMs ?? 1000;
  const pcm = tone(frequency, durationMs, config.amplitude ?? 0.5);
  const player = voice.createAudioPlayer();
  player.on('error', (err) => fail(1, `player error: ${err.message}`));
  player.on('stateChange', (from, to) => emit('player-state', { from: from.status, to: to.status }));
  connection.subscribe(player);
  const resource = voice.createAudioResource(Readable.from([pcm]), { inputType: voice.StreamType.Raw });
  const started = performance.now();
  player.play(resource);
  await voice.entersState(player, voice.AudioPlayerStatus.Playing, 5000);
  await voice.entersState(player, voice.AudioPlayerStatus.Idle, durationMs + 5000);
  emit('played', { frequency, durationMs, playbackDurationMs: resource.playbackDuration, wallMs: Math.round(performance.now() - started) });
  // Let the last UDP datagrams leave before tearing down.
  await new Promise((r) => setTimeout(r, 100));
}

async function listen(connection) {
  const listenMs = config.listenMs ?? 5000;
  const idleMs = config.idleMs ?? 600;
  const stream = connection.receiver.subscribe(config.listenUserId, { end: { behavior: voice.EndBehaviorType.Manual } });
  const decoder = new OpusEncoder(48000, 2);
  const pcm = [];
  let packets = 0;
  let silenceFrames = 0;
  let decodeFailures = 0;
  let firstPacketAt = -1;
  let lastPacketAt = -1;
  let idleTimer = null;
  let finish;
  const done = new Promise((r) => (finish = r));
  const maxTimer = setTimeout(() => finish('listenMs'), listenMs);
  stream.on('data', (opus) => {
    packets++;
    const now = performance.now();
    if (firstPacketAt < 0) firstPacketAt = now;
    lastPacketAt = now;
    if (opus.equals(SILENCE_FRAME)) silenceFrames++;
    try {
      pcm.push(decoder.decode(opus));
    } catch {
      decodeFailures++;
    }
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => finish('idle'), idleMs);
  });
  stream.on('error', (err) => fail(1, `receive stream error: ${err.message}`));
  emit('listening', { userId: config.listenUserId });
  const reason = await done;
  clearTimeout(maxTimer);
  if (idleTimer) clearTimeout(idleTimer);
  stream.destroy();
  const out = Buffer.concat(pcm);
  if (config.outFile) fs.writeFileSync(config.outFile, out);
  emit('heard', {
    userId: config.listenUserId,
    reason,
    packets,
    silenceFrames,
    decodeFailures,
    pcmBytes: out.length,
    spanMs: firstPacketAt < 0 ? 0 : Math.round(lastPacketAt - firstPacketAt),
    outFile: config.outFile ?? null,
  });
}

async function main() {
  emit('start', { action: config.action, pid: process.pid, node: process.version });
  if (globalThis.__blockSodium) emit('xchacha-loaded', { waitedMs: await waitForXChaCha(), crypto: cryptoLibReport() });
  const connection = voice.joinVoiceChannel({
    guildId: config.guildId,
    channelId: config.channelId,
    adapterCreator,
    selfDeaf: false,
    selfMute: false,
    debug: Boolean(config.debug),
  });
  connection.on('stateChange', (from, to) => emit('connection-state', { from: from.status, to: to.status }));
  connection.on('error', (err) => fail(1, `connection error: ${err.message}`));
  if (config.debug) connection.on('debug', (message) => emit('debug', { message }));

  await voice.entersState(connection, voice.VoiceConnectionStatus.Ready, 10000);
  const networking = connection.state.networking;
  const data = networking && networking.state.connectionData;
  emit('ready', {
    mode: data ? data.encryptionMode : null,
    ssrc: data ? data.ssrc : null,
    ping: connection.ping,
    crypto: cryptoLibReport(),
  });

  if (config.waitForDaveMs) {
    const started = performance.now();
    while (!connection.voicePrivacyCode && performance.now() - started < config.waitForDaveMs) {
      await new Promise((r) => setTimeout(r, 10));
    }
    emit('dave', { privacyCode: connection.voicePrivacyCode ?? null, waitedMs: Math.round(performance.now() - started) });
  }

  if (config.action === 'play') await play(connection);
  else if (config.action === 'listen') await listen(connection);
  else throw new Error(`unknown action ${String(config.action)}`);

  emit('done', {
    crypto: cryptoLibReport(),
    ping: connection.ping,
    privacyCode: connection.voicePrivacyCode ?? null,
    dependencyReport: voice.generateDependencyReport(),
  });
  connection.destroy();
  // Give the close frame a moment, then exit even if a handle lingers.
  setTimeout(() => process.exit(0), 50);
}

main().catch((err) => fail(1, err && err.stack ? err.stack : String(err)));
