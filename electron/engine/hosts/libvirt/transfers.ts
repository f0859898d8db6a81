// A libvirt host's exports and imports under way (export-domain.ts, import-domain.ts): each with
// its progress on the tile and Cancel. An export is a job of its domain (one at a time with the
// domain's other jobs, on a shut-off domain); an import has no domain until it is defined, so
// vm.cancelJob finds it by the id its progress named (ImportJobs).
import type { ExportResult, ImportResult } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { ImportJobs } from '../../lifecycle/import-jobs';
import { TempJournal } from '../../lifecycle/temp-journal';
import { checkDestination } from '../../lifecycle/transfer';
import { HomeLayout } from '../../paths';
import { ENGINE_VERSION } from '../../version';
import { exportDomain } from './export-domain';
import { importDomain } from './import-domain';
import type { LibvirtHost } from './libvirt-host';
import { uuidToId } from './virsh-parse';

export class HostTransfers {
  private readonly imports = new ImportJobs();
  /** the export under way per domain (key: uuid) */
  private readonly exports = new Map<string, AbortController>();

  constructor(private readonly host: LibvirtHost) {}

  importVm(path: string, opts: { name?: string; start: boolean }): Promise<ImportResult> {
    const h = this.host;
    const side = { ctx: h.bootContext(), nameTaken: (n: string) => !!h.find(n), defined: (uuid: string, start: boolean) => h.defined(uuid, start) };
    return this.imports.run((id, p) => h.progress(id, p), (report, signal) => importDomain(side, path, opts, report, signal));
  }

  cancelImport(id: string): boolean {
    return this.imports.cancel(id);
  }

  /** The shut-off domain `uuid` to an archive on this computer, as a job of that domain. */
  async exportVm(uuid: string, path: string, force: boolean, requireShutOff: () => void): Promise<ExportResult> {
    await checkDestination(path, force);
    const h = this.host;
    return h.ops.run(uuid, async () => {
      requireShutOff();
      const ac = new AbortController();
      this.exports.set(uuid, ac);
      const id = uuidToId(uuid);
      const side = { virsh: h.conn.virsh, hostId: h.id, home: h.opts.home, journal: new TempJournal(new HomeLayout(h.opts.home).tempJournalDir), engineVersion: ENGINE_VERSION };
      try {
        return await exportDomain(side, { uuid, info: h.get(id) }, path, force, ac.signal, (percent, message) => h.progress(id, { op: 'export', percent, message, cancellable: true }));
      } finally {
        this.exports.delete(uuid);
        h.progress(id, null);
      }
    });
  }

  cancelExport(uuid: string): boolean {
    const ac = this.exports.get(uuid);
    if (!ac || ac.signal.aborted) return false;
    ac.abort(new FlotillaError('CANCELLED', 'export cancelled by the user'));
    return true;
  }
}
