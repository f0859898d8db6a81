// The default guest's recipe fingerprint: a hash of everything this checkout would put into a
// newly built guest besides the Debian packages themselves — the init scripts in assets/guest,
// the programs and modules it picks, the kernel command line and boot profile. A guest whose
// manifest carries another fingerprint was built by an older (or newer) Flotilla: it still
// boots (its manifest says how), but it lacks what the recipe has gained since (a persistent
// /root, SSH, the lossless console), so builds and tests treat it as stale and rebuild it.
// Without this, an image built once stayed "ready" forever, whatever the recipe became.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_GUEST_CMDLINE, DEFAULT_GUEST_PROFILE } from './boot-profile';
import { findGuestAssetsDir, GUEST_ASSET_FILES } from './guest-assets';
import { GUEST_FEATURES, MANIFEST_FORMAT } from './guest-manifest';
import { GUEST_PROGRAMS } from './guest-programs';
import { RELAY_CFLAGS } from './guest-relay';

/** What the build adds beyond the asset files; passed in so build-default's own lists count. */
export interface RecipeInputs {
  kernelMembers: readonly string[];
  moduleGroups: readonly { group: string; modules: readonly string[] }[];
  compression: 'none' | 'gzip';
}

export function recipeFingerprint(inputs: RecipeInputs, assetsDir: string = findGuestAssetsDir()): string {
  const h = createHash('sha256');
  const part = (name: string, data: string | Buffer): void => {
    h.update(`${name}\0${data.length}\0`);
    h.update(data);
  };
  for (const f of [...GUEST_ASSET_FILES].sort()) part(`asset:${f}`, readFileSync(join(assetsDir, f)));
  part(
    'build',
    JSON.stringify({
      format: MANIFEST_FORMAT,
      features: GUEST_FEATURES,
      programs: GUEST_PROGRAMS,
      relayCflags: RELAY_CFLAGS,
      cmdline: DEFAULT_GUEST_CMDLINE,
      profile: DEFAULT_GUEST_PROFILE,
      ...inputs,
    }),
  );
  return h.digest('hex');
}
