// Methods a shell answers itself instead of the engine (today: the native file picker). The
// composed handler is still called through `dispatch`, so requests are validated the same way.
import type { CallContext, ContractHandler, Method, MethodParams, MethodResult } from '../../shared/contract';

export type PickKind = MethodParams<'host.pickFile'>['kind'];

export interface FileFilter {
  name: string;
  extensions: string[];
}

/** Dialog filters per kind. Kernels and initrds often have no extension, so "All files" stays available. */
export function fileFiltersFor(kind: PickKind): FileFilter[] {
  const all = { name: 'All files', extensions: ['*'] };
  switch (kind) {
    case 'iso':
      return [{ name: 'ISO images', extensions: ['iso'] }, all];
    case 'disk':
      return [{ name: 'Disk images', extensions: ['qcow2', 'img', 'raw', 'vmdk', 'vdi', 'vhdx', 'vhd'] }, all];
    case 'kernel':
      return [all, { name: 'Kernels', extensions: ['bzImage', 'vmlinuz', 'efi'] }];
    case 'initrd':
      return [all, { name: 'Initial ramdisks', extensions: ['img', 'gz', 'cpio', 'zst', 'xz'] }];
  }
}

export interface HostMethods {
  pickFile(params: MethodParams<'host.pickFile'>): Promise<string | null>;
}

export function withHostMethods(engine: ContractHandler, host: HostMethods): ContractHandler {
  return {
    onEvent: (listener) => engine.onEvent(listener),
    async handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
      if (method === 'host.pickFile') {
        const path = await host.pickFile(params as MethodParams<'host.pickFile'>);
        return { path } as MethodResult<M>;
      }
      return engine.handle(method, params, ctx);
    },
  };
}
