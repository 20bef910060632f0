import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFfmpeg } from '../../../src/sources/findFfmpeg';
import { loadTracks } from '../../../src/server/lavalink/loadTracks';
import { decodeTrack, decodeTrackDetails } from '../../../src/server/lavalink/trackCodec';
import type { LoadResult, Track } from '../../../src/server/lavalink/types';

const HTTP_ONLY = { sources: { http: true, local: false } } as const;
const BOTH = { sources: { http: true, local: true } } as const;

let dir: string;
let tone: Buffer;
let server: Server;
let base: string;

function track(r: LoadResult): Track {
  if (r.loadType !== 'track') throw new Error(`expected a track, got ${JSON.stringify(r)}`);
  return r.data;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rxvoice-loadtracks-'));
  const ffmpeg = findFfmpeg();
  const make = (file: string, meta: string[]): void => {
    execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', ...meta, '-c:a', 'libmp3lame', '-b:a', '64k', join(dir, file)]);
  };
  make('tone.mp3', ['-metadata', 'title=Tone', '-metadata', 'artist=Rx']);
  make('untitled tone.mp3', []);
  tone = readFileSync(join(dir, 'tone.mp3'));
  writeFileSync(join(dir, 'notes.txt'), 'not audio at all\n'.repeat(100));

  server = createServer((req, res) => {
    if (req.url === '/tone.mp3') {
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': tone.length });
      res.end(tone);
    } else if (req.url === '/live') {
      // No length: chunked, as an internet radio stream.
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.end(tone);
    } else if (req.url === '/page') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>' + 'hello '.repeat(500) + '</body></html>');
    } else if (req.url === '/broken') {
      res.writeHead(500);
      res.end('oops');
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  rmSync(dir, { recursive: true, force: true });
});

describe('loadTracks: http', () => {
  it('loads an mp3 with its metadata and length, encoded so that it decodes back', async () => {
    const url = `${base}/tone.mp3`;
    const t = track(await loadTracks(url, HTTP_ONLY));
    expect(t.info).toMatchObject({ identifier: url, uri: url, title: 'Tone', author: 'Rx', isStream: false, isSeekable: true, position: 0, sourceName: 'http', artworkUrl: null, isrc: null });
    expect(t.info.length).toBeGreaterThanOrEqual(1950);
    expect(t.info.length).toBeLessThanOrEqual(2150);
    expect(decodeTrack(t.encoded)).toEqual(t.info);
    expect(decodeTrackDetails(t.encoded).probeInfo).toBe('mp3');
    expect(t.pluginInfo).toEqual({});
    expect(t.userData).toEqual({});
  });

  it('marks a source without a length as a stream (Long.MAX_VALUE)', async () => {
    const t = track(await loadTracks(`${base}/live`, HTTP_ONLY));
    expect(t.info.isStream).toBe(true);
    expect(t.info.isSeekable).toBe(false);
    expect(t.info.length).toBe(9223372036854775807);
    expect(Buffer.from(t.encoded, 'base64').includes(Buffer.from('7fffffffffffffff', 'hex'))).toBe(true);
  });

  it('gives empty for a 404, as lavaplayer', async () => {
    expect(await loadTracks(`${base}/missing.mp3`, HTTP_ONLY)).toEqual({ loadType: 'empty', data: {} });
  });

  it('gives an error for other statuses, unreadable content and refused connections', async () => {
    const broken = await loadTracks(`${base}/broken`, HTTP_ONLY);
    expect(broken).toMatchObject({ loadType: 'error', data: { message: 'That URL is not playable.', severity: 'common', cause: expect.stringContaining('500') } });
    const page = await loadTracks(`${base}/page`, HTTP_ONLY);
    expect(page).toMatchObject({ loadType: 'error', data: { message: 'Unknown file format.', severity: 'common' } });
    const refused = await loadTracks('http://127.0.0.1:1/x.mp3', HTTP_ONLY);
    expect(refused).toMatchObject({ loadType: 'error', data: { message: 'Connecting to the URL failed.', severity: 'suspicious' } });
  });

  it('refuses URLs when the http source is off, naming the enabled sources', async () => {
    const r = await loadTracks(`${base}/tone.mp3`, { sources: { http: false, local: true } });
    expect(r).toMatchObject({ loadType: 'error', data: { severity: 'common', message: expect.stringContaining('Enabled sources: local') } });
  });
});

describe('loadTracks: local', () => {
  it('loads a file path with its metadata', async () => {
    const path = join(dir, 'tone.mp3');
    const t = track(await loadTracks(path, BOTH));
    expect(t.info).toMatchObject({ identifier: path, uri: path, title: 'Tone', author: 'Rx', sourceName: 'local', isStream: false });
    expect(decodeTrackDetails(t.encoded)).toMatchObject({ probeInfo: 'mp3', info: t.info });
  });

  it('falls back to the file name for the title', async () => {
    const t = track(await loadTracks(join(dir, 'untitled tone.mp3'), BOTH));
    expect(t.info.title).toBe('untitled tone.mp3');
    expect(t.info.author).toBe('Unknown artist');
  });

  it('gives empty for a missing path or when local is off; an error for a non-audio file', async () => {
    expect(await loadTracks(join(dir, 'nope.mp3'), BOTH)).toEqual({ loadType: 'empty', data: {} });
    expect(await loadTracks(join(dir, 'tone.mp3'), HTTP_ONLY)).toEqual({ loadType: 'empty', data: {} });
    expect(await loadTracks(dir, BOTH)).toEqual({ loadType: 'empty', data: {} });
    expect(await loadTracks(join(dir, 'notes.txt'), BOTH)).toMatchObject({ loadType: 'error', data: { message: 'Unknown file format.', severity: 'common' } });
  });
});

describe('loadTracks: what this node does not serve', () => {
  it.each(['ytsearch:never gonna give you up', 'scsearch:tone', 'ytmsearch:x', 'spsearch:x'])('%s → an error naming the enabled sources', async (id) => {
    const r = await loadTracks(id, BOTH);
    expect(r.loadType).toBe('error');
    if (r.loadType !== 'error') return;
    expect(r.data.severity).toBe('common');
    expect(r.data.message).toContain(id.slice(0, id.indexOf(':') + 1));
    expect(r.data.message).toContain('Enabled sources: http, local');
    expect(typeof r.data.cause).toBe('string');
  });

  it('gives empty for a bare word, as Lavalink without a matching source', async () => {
    expect(await loadTracks('never gonna give you up', HTTP_ONLY)).toEqual({ loadType: 'empty', data: {} });
  });

  it('gives a fault error when ffmpeg cannot be started', async () => {
    const r = await loadTracks(`${base}/tone.mp3`, HTTP_ONLY, { ffmpegPath: join(dir, 'no-ffmpeg') });
    expect(r).toMatchObject({ loadType: 'error', data: { severity: 'fault' } });
  });
});
