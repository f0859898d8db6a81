// `flotilla serve`: runs the engine (or joins the one already running) and serves the app to
// a browser on loopback. Prints the URL carrying the one-time token (or, with --json, a JSON
// line), and runs until SIGINT/SIGTERM. Stopping serve never stops VMs: the next engine
// adopts them.
import { ensureDefaultGuest } from '../engine/default-guest-boot';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FlotillaError } from '../../shared/errors';
import { TakeoverHandler } from '../engine/takeover';
import { flotillaHome } from '../engine/paths';
import { startHeadless } from '../headless/server';
import { serveToken, TOKEN_FILE } from '../headless/serve-token';

export const SERVE_USAGE = `usage: flotilla serve [--port N] [--host 127.0.0.1] [--allow-remote] [--json] [--open] [--no-build-default] [--new-token]
  --port N            listen on port N (default: a free port)
  --host ADDR         bind address (default 127.0.0.1; anything else needs --allow-remote)
  --allow-remote      allow binding a non-loopback address (prints a warning)
  --json              print {"url","token","port"} as the first stdout line
  --open              open the URL in the default browser
  --no-build-default  do not build the default guest image if it is missing
  --new-token         make a new token: pages and links holding the old one stop working
                      (the token is kept in the data directory, so a page open on a fixed
                      --port reconnects after serve restarts)`;

export interface ServeDeps {
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  rendererDir?: string;
  /** resolves when serve should stop; defaults to the first SIGINT/SIGTERM */
  until?: Promise<unknown>;
}


function findRendererDir(): string | null {
  const here = typeof __dirname !== 'undefined' ? __dirname : process.cwd();
  const candidates = [process.env.FLOTILLA_RENDERER_DIR, join(here, '..', 'renderer'), join(here, '..', '..', 'dist', 'renderer'), join(process.cwd(), 'dist', 'renderer')];
  return candidates.find((d): d is string => !!d && existsSync(join(d, 'index.html'))) ?? null;
}

function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new FlotillaError('BAD_REQUEST', `--port must be a number from 0 to 65535, got "${raw}"`);
  return n;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

function openInBrowser(url: string, err: (l: string) => void): void {
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    err('no display found (DISPLAY/WAYLAND_DISPLAY unset): open the URL yourself');
    return;
  }
  const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
  child.on('error', (e) => err(`could not run xdg-open: ${e.message}`));
  child.unref();
}

export async function runServe(argv: string[], deps: ServeDeps = {}): Promise<number> {
  const out = deps.stdout ?? ((l: string) => void process.stdout.write(l + '\n'));
  const err = deps.stderr ?? ((l: string) => void process.stderr.write(l + '\n'));
  let args;
  try {
    args = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        'allow-remote': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        open: { type: 'boolean', default: false },
        'no-build-default': { type: 'boolean', default: false },
        'new-token': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    err(`flotilla serve: ${e instanceof Error ? e.message : String(e)}\n${SERVE_USAGE}`);
    return 2;
  }
  if (args.help) {
    out(SERVE_USAGE);
    return 0;
  }
  const rendererDir = deps.rendererDir ?? findRendererDir();
  if (!rendererDir) {
    err('flotilla serve: the renderer is not built (no dist/renderer/index.html): run `npm run build` first');
    return 1;
  }
  // Arm the signal handler first so an early Ctrl-C still closes things in order.
  const until = deps.until ?? untilSignal();
  let engine;
  try {
    parsePort(args.port);
    engine = await TakeoverHandler.open(
      { shell: 'serve' },
      {
        onLost: () => err('the engine that owned this data directory went away: taking over (running VMs are adopted)'),
        onReopened: (role) => err(role === 'engine' ? 'this process is now the engine' : 'connected to the new engine'),
        onError: (e) => err(`could not reopen the engine, retrying: ${e instanceof Error ? e.message : String(e)}`),
      },
    );
  } catch (e) {
    err(`flotilla serve: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  if (engine.role === 'client') err('another Flotilla engine owns this data directory; serving it through its socket');
  let server;
  try {
    // kept across runs (serve-token.ts): an open page reconnects after a restart on the same port
    const kept = await serveToken(join(flotillaHome(), TOKEN_FILE), { renew: args['new-token'] });
    if (kept.made === 'exposed') err(`${TOKEN_FILE} could be read by other users: made a new token (pages holding the old one must be opened again)`);
    server = await startHeadless({ handler: engine, port: parsePort(args.port), host: args.host, allowNonLoopback: args['allow-remote'], rendererDir, log: err, token: kept.token });
  } catch (e) {
    err(`flotilla serve: ${e instanceof Error ? e.message : String(e)}`);
    await engine.close();
    return 1;
  }
  if (args.json) out(JSON.stringify({ url: server.url, token: server.token, port: server.port }));
  else out(`Flotilla is running at ${server.url}\nThe token in the link is the key: do not share it (\`flotilla serve --new-token\` replaces it). Stop with Ctrl-C (VMs keep running).`);
  if (args.open) openInBrowser(server.url, err);
  if (!args['no-build-default'] && engine.role === 'engine') {
    ensureDefaultGuest(engine, err).catch((e: unknown) => err(`could not check the default guest: ${String(e)}`));
  }
  await until;
  err('stopping: closing the server and the engine; running VMs keep running');
  await server.close();
  await engine.close();
  return 0;
}
