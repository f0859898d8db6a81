// Fetches Debian packages into a local cache with `apt-get download` (no root needed) and reads
// their control fields with `dpkg-deb`. When apt cannot answer (offline, no apt) the newest
// cached .deb of each package is used, so a rebuild works offline once the cache is filled.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FetchedDeb {
  name: string;
  version: string;
  file: string;
  sha256: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument array; resolves with its exit code and output. ENOENT → code 127. */
export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 1, stdout: '', stderr: String(e.message) }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** Splits a Depends-style field into package names, taking the first of each `a | b` alternative. */
export function parseDependsField(field: string): string[] {
  return field
    .split(',')
    .map((clause) => clause.split('|')[0]!.trim())
    .filter((s) => s.length > 0)
    .map((s) => s.replace(/\s*\(.*\)\s*$/, '').replace(/:any$/, '').trim());
}

/** Parses `dpkg-deb -f` output (RFC822-ish control stanza) into a field map. */
export function parseControl(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key: string | null = null;
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && key) {
      fields.set(key, `${fields.get(key) ?? ''}\n${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) {
      key = m[1]!;
      fields.set(key, m[2]!);
    }
  }
  return fields;
}

/** Debian file names are `name_version_arch.deb` with the epoch colon URL-encoded. */
function debFileName(file: string): { name: string; version: string } | null {
  const m = /^([^_]+)_([^_]+)_([^_]+)\.deb$/.exec(file);
  return m ? { name: m[1]!, version: decodeURIComponent(m[2]!) } : null;
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

export class DebCache {
  readonly log: (msg: string) => void;

  constructor(
    readonly dir: string,
    log?: (msg: string) => void,
  ) {
    this.log = log ?? (() => {});
  }

  /**
   * Makes sure each named package is in the cache at apt's candidate version and returns it.
   * One apt round trip per call, so callers batch names.
   */
  async fetch(names: string[]): Promise<FetchedDeb[]> {
    await mkdir(this.dir, { recursive: true });
    const uris = await this.printUris(names);
    if (!uris) return this.fromCacheOnly(names);
    const missing: string[] = [];
    for (const u of uris.values()) {
      const have = await stat(join(this.dir, u.file)).catch(() => null);
      if (!have || have.size !== u.size || (await sha256File(join(this.dir, u.file))) !== u.sha256) missing.push(u.name);
    }
    if (missing.length) {
      this.log(`downloading ${missing.join(', ')}`);
      const r = await run('apt-get', ['-q', '-o', 'APT::Sandbox::User=root', 'download', ...missing], { cwd: this.dir });
      if (r.code !== 0) {
        const cached = await this.fromCacheOnly(names).catch(() => null);
        if (cached) {
          this.log(`apt-get download failed; using cached packages`);
          return cached;
        }
        throw new Error(`apt-get download ${missing.join(' ')} failed:\n${r.stderr.trim()}\n${this.helpText()}`);
      }
    }
    const out: FetchedDeb[] = [];
    for (const name of names) {
      const u = uris.get(name);
      if (!u) throw new Error(`apt did not offer package ${name}. ${this.helpText()}`);
      const path = join(this.dir, u.file);
      const sum = await sha256File(path);
      if (sum !== u.sha256) throw new Error(`${u.file} does not match the archive's checksum; delete it from ${this.dir} and retry`);
      out.push({ name, version: u.version, file: path, sha256: sum });
    }
    return out;
  }

  /** Asks apt (from an empty dir, so it lists every package) where each package would come from. */
  private async printUris(names: string[]): Promise<Map<string, { name: string; version: string; file: string; size: number; sha256: string }> | null> {
    const empty = await mkdtemp(join(tmpdir(), 'flotilla-apt-'));
    try {
      const r = await run('apt-get', ['-q', '--print-uris', 'download', ...names], { cwd: empty });
      if (r.code !== 0) {
        this.log(r.code === 127 ? 'apt-get not found; using cached packages' : `apt cannot resolve packages (${r.stderr.trim().split('\n').pop() ?? ''}); using cached packages`);
        return null;
      }
      const map = new Map<string, { name: string; version: string; file: string; size: number; sha256: string }>();
      for (const line of r.stdout.split('\n')) {
        const m = /^'[^']+' (\S+) (\d+) SHA256:([0-9a-f]{64})$/.exec(line.trim());
        if (!m) continue;
        const parsed = debFileName(m[1]!);
        if (!parsed) continue;
        map.set(parsed.name, { ...parsed, file: m[1]!, size: Number(m[2]), sha256: m[3]! });
      }
      return map;
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  }

  private async fromCacheOnly(names: string[]): Promise<FetchedDeb[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const out: FetchedDeb[] = [];
    for (const name of names) {
      const candidates: { file: string; version: string; mtime: number }[] = [];
      for (const f of files) {
        const p = debFileName(f);
        if (p?.name !== name) continue;
        candidates.push({ file: f, version: p.version, mtime: (await stat(join(this.dir, f))).mtimeMs });
      }
      // the most recently fetched one is what apt last offered
      candidates.sort((a, b) => b.mtime - a.mtime || (a.file < b.file ? -1 : 1));
      const pick = candidates[0];
      if (!pick) throw new Error(`package ${name} is not in the cache ${this.dir} and apt cannot fetch it. ${this.helpText()}`);
      const path = join(this.dir, pick.file);
      out.push({ name, version: pick.version, file: path, sha256: await sha256File(path) });
    }
    return out;
  }

  helpText(): string {
    return (
      'The default guest is built from Debian bookworm packages: install apt and dpkg (Debian/Ubuntu: `apt-get install apt dpkg`), ' +
      'run `apt-get update`, and make sure deb.debian.org is reachable — or skip the default guest and create a VM from your own ' +
      "kernel and initrd (source kind 'kernel')."
    );
  }
}

/** Reads a .deb's control fields. */
export async function debControl(file: string): Promise<Map<string, string>> {
  const r = await run('dpkg-deb', ['-f', file]);
  if (r.code !== 0) throw new Error(r.code === 127 ? 'dpkg-deb not found: install dpkg' : `dpkg-deb -f ${file} failed: ${r.stderr.trim()}`);
  return parseControl(r.stdout);
}

/** Unpacks a .deb's data into dir (no maintainer scripts run, no root needed). */
export async function debExtract(file: string, dir: string): Promise<void> {
  const r = await run('dpkg-deb', ['-x', file, dir]);
  if (r.code !== 0) throw new Error(r.code === 127 ? 'dpkg-deb not found: install dpkg' : `dpkg-deb -x ${file} failed: ${r.stderr.trim()}`);
}

/**
 * Unpacks only the members matching tar wildcards (e.g. './boot/vmlinuz-*'): the kernel package
 * holds ~100 MB of modules of which the guest needs a handful. `dpkg-deb --fsys-tarfile | tar -x`.
 */
export function debExtractMatching(file: string, dir: string, patterns: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const deb = spawn('dpkg-deb', ['--fsys-tarfile', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', dir, '--wildcards', '--no-wildcards-match-slash', ...patterns], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    deb.stderr.on('data', (d: Buffer) => (err += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    deb.stdout.pipe(tar.stdin);
    // tar may exit first (e.g. on error); a broken pipe on our side is not the error to report
    tar.stdin.on('error', () => {});
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(new Error(`${what} failed while unpacking ${file}: ${err.trim() || `exit ${code}`}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    deb.on('error', (e) => reject(new Error(`dpkg-deb: ${e.message} (install dpkg)`)));
    tar.on('error', (e) => reject(new Error(`tar: ${e.message} (install tar)`)));
    deb.on('close', done('dpkg-deb --fsys-tarfile'));
    tar.on('close', done('tar'));
  });
}
