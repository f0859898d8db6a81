// Picks the kernel modules the default guest needs out of the kernel package and orders them so
// each module's dependencies load first (insmod does no dependency resolution). Debian's package
// ships no modules.dep (depmod runs at install time), so dependencies come from each module's
// own .modinfo `depends=` field.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readModinfo } from './elf';

export interface KernelModule {
  name: string;
  /** path relative to the unpacked package root, e.g. lib/modules/<kver>/kernel/drivers/virtio/virtio.ko */
  path: string;
  depends: string[];
}

/** Module names use underscores; file names sometimes use dashes. */
export function moduleName(file: string): string {
  return file.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (/\.ko$/.test(e.name)) out.push(p);
  }
}

/** Maps module name → file inside an unpacked kernel package. */
export async function indexModules(root: string, kernelVersion: string): Promise<Map<string, string>> {
  const files: string[] = [];
  await walk(join(root, 'lib/modules', kernelVersion, 'kernel'), files);
  const index = new Map<string, string>();
  for (const f of files) index.set(moduleName(f.slice(f.lastIndexOf('/') + 1)), relative(root, f));
  return index;
}

/**
 * Orders `wanted` plus everything they depend on, dependencies first. Pure: `depsOf` says what a
 * module depends on. Ties keep the order of `wanted`, so the result is stable.
 */
export function orderModules(wanted: string[], depsOf: (name: string) => string[]): string[] {
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: string[] = [];
  const visit = (name: string, chain: string[]) => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' → ')}`);
    visiting.add(name);
    for (const d of depsOf(name)) visit(d, [...chain, name]);
    visiting.delete(name);
    done.add(name);
    out.push(name);
  };
  for (const w of wanted) visit(w, []);
  return out;
}

/** Resolves `wanted` against the unpacked kernel package; built-in modules are skipped. */
export async function resolveModules(root: string, kernelVersion: string, wanted: string[]): Promise<KernelModule[]> {
  const index = await indexModules(root, kernelVersion);
  const builtinText = await readFile(join(root, 'lib/modules', kernelVersion, 'modules.builtin'), 'utf8').catch(() => '');
  const builtin = new Set(builtinText.split('\n').filter(Boolean).map((l) => moduleName(l.slice(l.lastIndexOf('/') + 1))));
  const deps = new Map<string, string[]>();
  const depsOf = (name: string): string[] => {
    const d = deps.get(name);
    if (!d) throw new Error(`internal: dependencies of ${name} not read`);
    return d;
  };
  // read modinfo for the closure first (async), then order it (sync)
  const queue = [...wanted];
  while (queue.length) {
    const name = queue.shift()!;
    if (deps.has(name)) continue;
    if (builtin.has(name)) {
      deps.set(name, []);
      continue;
    }
    const rel = index.get(name);
    if (!rel) throw new Error(`kernel ${kernelVersion} has no module ${name}`);
    const info = readModinfo(await readFile(join(root, rel)), rel);
    const list = (info.get('depends')?.[0] ?? '').split(',').filter(Boolean).map((n) => n.replace(/-/g, '_'));
    deps.set(name, list);
    queue.push(...list);
  }
  return orderModules(wanted, depsOf)
    .filter((n) => !builtin.has(n))
    .map((name) => ({ name, path: index.get(name)!, depends: depsOf(name) }));
}
