// How the UI names a VM in a request: its id, plus its host when that is not `local` (VMs on
// libvirt hosts). The host comes from the VM's own VmInfo in the store.
import { LOCAL_HOST } from '../../../shared/contract-names';
import { useStore } from './store';

export function vmRef(id: string): { id: string; host?: string } {
  const host = useStore.getState().vms.byId[id]?.host;
  return host && host !== LOCAL_HOST ? { host, id } : { id };
}
