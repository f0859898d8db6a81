// known_hosts lines as ssh writes them: read and checked before any is trusted, and fingerprints
// as ssh-keygen -l prints them (the values below are ssh-keygen's own, for these keys). The fetch
// and the trust run against a real sshd in tests/integration/libvirt-connect-errors.itest.ts.
import { describe, expect, it } from 'vitest';
import { fingerprintOf, parseKnownHostLines } from './host-keys';

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIGgXDSj71TbRkrCviDe3nptlGL4akpteTP68sd1VZFRm';
const ED_FP = 'SHA256:K7HomkR+B6yzFRgO0b1i87AmkUwpFbPfJtF/Ho+Y59w';
const RSA = 'AAAAB3NzaC1yc2EAAAADAQABAAAAgQCkxRlzMAU9uV+LMhAyDcaMIV0CrinmyOJ+myu1KVjdduR/hnBNHtyM5gvEfwrMqvB+C0v4pdwrcPOvpwwpL+3/0W/hoJM+HETnh7RjdO/80aewbDst+QozE7CR4kNzRkXQIjky54XthtxgxwmbdcD0TvXt+zLf89dUdKdg0cjeGw==';
const RSA_FP = 'SHA256:D57d6rKBdujcmamFnTOJw1wJs6Mmi/PoleaFkinEW1A';
const HASHED = '|1|lwef+OffqUaEgERbd6xoNBdf3NA=|uwYR1ql9HfM5zyUZ4Cz60TjOQag=';

describe('fingerprintOf', () => {
  it('is what ssh-keygen -l prints', () => {
    expect(fingerprintOf(Buffer.from(ED, 'base64'))).toBe(ED_FP);
    expect(fingerprintOf(Buffer.from(RSA, 'base64'))).toBe(RSA_FP);
  });
});

describe('parseKnownHostLines', () => {
  it('reads hashed and plain lines, as ssh writes them with and without HashKnownHosts', () => {
    expect(parseKnownHostLines(`${HASHED} ssh-ed25519 ${ED}\n`)).toEqual([{ type: 'ssh-ed25519', fingerprint: ED_FP, line: `${HASHED} ssh-ed25519 ${ED}` }]);
    expect(parseKnownHostLines(`[10.0.0.9]:2222 ssh-rsa ${RSA}\nlab.example.org,10.0.0.9 ssh-ed25519 ${ED}\n\n# comment\n`).map((l) => l.fingerprint)).toEqual([RSA_FP, ED_FP]);
    expect(parseKnownHostLines('')).toEqual([]);
  });

  it('refuses markers, extra fields, unknown types and blobs that name another type', () => {
    const bad = [
      `@cert-authority *.example.org ssh-ed25519 ${ED}`,
      `!evil.example.org ssh-ed25519 ${ED}`,
      `* ssh-ed25519 ${ED}`,
      `lab ssh-ed25519 ${ED} comment`,
      `lab ssh-dss ${ED}`,
      `lab ssh-rsa ${ED}`,
      'lab ssh-ed25519 not*base64',
      'lab ssh-ed25519 AAAA',
      `lab\tssh-ed25519 ${ED}`,
    ];
    for (const line of bad) expect(() => parseKnownHostLines(line), line).toThrow();
  });
});
