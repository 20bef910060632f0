/**
 * `rxvoice node`: a Lavalink v4-compatible audio node (see docs/lavalink-node.md).
 *
 *   rxvoice node [--config application.yml] [--port 2333] [--address 0.0.0.0] [--password PASS] [--metrics] [--verbose]
 *
 * Reads Lavalink's `application.yml` from the working directory (or `--config`); flags win.
 */
import { parseArgs } from 'node:util';
import { loadLavalinkConfig, type LavalinkConfigOverrides } from '../server/lavalink/config';
import { startLavalinkNode, type LavalinkNode } from '../server/lavalink/startLavalinkNode';
import { CliError } from './CliError';
import { untilTerminated } from './untilTerminated';

/** Usage of `rxvoice node`. */
export const NODE_USAGE = `rxvoice node: a Lavalink v4-compatible audio node (REST + /v4/websocket)

Usage:
  rxvoice node [--config FILE] [--port PORT] [--address ADDR] [--password PASS] [--metrics] [--no-dave] [--verbose]

Options:
  --config FILE     Lavalink's application.yml (default: ./config/application.yml or ./application.yml
                    if present, else Lavalink's defaults); LAVALINK_SERVER_PASSWORD etc. also apply
  --port PORT       server.port (default 2333)
  --address ADDR    server.address (default 0.0.0.0)
  --password PASS   lavalink.server.password (default youshallnotpass)
  --metrics         serve Prometheus metrics at /metrics without authorization
                    (metrics.prometheus.enabled/endpoint in the config does the same)
  --no-dave         voice connections without DAVE end-to-end encryption (Discord requires it)
  --verbose         log requests, sessions and events to stderr
`;

/** Where `runNode` writes. */
export interface NodeIo {
  out(line: string): void;
  err(line: string): void;
}

/** Parsed `rxvoice node` arguments. */
export interface NodeArgs {
  config?: string;
  overrides: LavalinkConfigOverrides;
  dave: boolean;
  /** `--metrics`: serve /metrics (else as the config says). */
  metrics: boolean;
  verbose: boolean;
  help: boolean;
}

/**
 * Parses `rxvoice node` arguments (after `node`).
 * @throws {CliError} `BAD_ARGUMENTS` for unknown flags or a bad port.
 */
export function parseNodeArgs(argv: readonly string[]): NodeArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        address: { type: 'string' },
        password: { type: 'string' },
        'no-dave': { type: 'boolean' },
        metrics: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new CliError('BAD_ARGUMENTS', (err instanceof Error ? err.message : 'invalid arguments').replace(/--password[= ]\S+/g, '--password …'));
  }
  const v = parsed.values;
  const overrides: LavalinkConfigOverrides = {};
  if (v.port !== undefined) {
    const port = Number(v.port);
    if (!/^\d+$/.test(v.port) || port > 65535) throw new CliError('BAD_ARGUMENTS', `--port must be 0–65535, got ${JSON.stringify(v.port)}`);
    overrides.port = port;
  }
  if (v.address !== undefined) overrides.address = v.address;
  if (v.password !== undefined) overrides.password = v.password;
  return { config: v.config, overrides, dave: v['no-dave'] !== true, metrics: v.metrics === true, verbose: v.verbose === true, help: v.help === true };
}

/**
 * Starts the node from the arguments; resolves with it once listening (the caller closes it).
 * @throws {CliError} `BAD_ARGUMENTS`; {@link RxVoiceError} `BAD_CONFIG` from the config file; listen errors.
 */
export async function startNodeFromArgs(args: NodeArgs, io: NodeIo, cwd = process.cwd()): Promise<LavalinkNode> {
  const config = loadLavalinkConfig({ file: args.config, cwd, overrides: args.overrides });
  io.err(config.file ? `config: ${config.file}` : 'config: no application.yml found; Lavalink defaults');
  if (config.ignored.length > 0) io.err(`config: not applied here: ${config.ignored.join(', ')}`);
  const skipped = (['youtube', 'bandcamp', 'soundcloud', 'twitch', 'vimeo', 'nico'] as const).filter((s) => config.sources[s]);
  if (skipped.length > 0) io.err(`sources: ${skipped.join(', ')} are enabled in the config but not served by this node (served: http${config.sources.local ? ", local" : ""})`);
  const node = await startLavalinkNode({
    config,
    dave: args.dave,
    ...(args.metrics ? { metrics: { endpoint: config.metricsEnabled ? config.metricsEndpoint : '/metrics' } } : {}),
    logger: args.verbose ? (e) => io.err(`${e.level}: ${e.message}${e.data ? ` ${JSON.stringify(e.data)}` : ''}`) : (e) => (e.level === 'error' || e.level === 'warn' ? io.err(`${e.level}: ${e.message}`) : undefined),
  });
  io.out(`rxvoice Lavalink node listening on ${node.address}:${node.port}\n`);
  if (args.metrics || config.metricsEnabled) io.err(`metrics: GET ${args.metrics && !config.metricsEnabled ? '/metrics' : config.metricsEndpoint} (Prometheus text, no authorization)`);
  return node;
}

/** `rxvoice node`: runs until SIGINT/SIGTERM; resolves with the exit status. */
export async function runNode(argv: readonly string[], io: NodeIo): Promise<number> {
  const args = parseNodeArgs(argv);
  if (args.help) {
    io.out(NODE_USAGE);
    return 0;
  }
  const node = await startNodeFromArgs(args, io);
  await untilTerminated();
  io.err('shutting down');
  await node.close();
  return 0;
}
