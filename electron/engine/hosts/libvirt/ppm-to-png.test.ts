import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../../tests/integration/fixtures/png';
import { ppmToPng, screenshotToPng } from './ppm-to-png';

describe('ppmToPng', () => {
  it('keeps every pixel', () => {
    const rgb = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const png = decodePng(ppmToPng(Buffer.concat([Buffer.from('P6\n3 2\n255\n'), rgb])));
    expect(png).toMatchObject({ width: 3, height: 2, bpp: 3 });
    expect(png.pixels).toEqual(rgb);
  });

  it.each([
    ['not a PPM', Buffer.from('P3\n1 1\n255\n1 2 3')],
    ['short data', Buffer.concat([Buffer.from('P6\n2 2\n255\n'), Buffer.alloc(5)])],
    ['16-bit', Buffer.concat([Buffer.from('P6\n1 1\n65535\n'), Buffer.alloc(6)])],
    ['huge', Buffer.from('P6\n99999 99999\n255\n')],
  ])('refuses %s', (_, buf) => {
    expect(() => ppmToPng(buf)).toThrow();
  });
});

describe('screenshotToPng', () => {
  it('passes PNG through and refuses other formats', () => {
    const png = ppmToPng(Buffer.concat([Buffer.from('P6 1 1 255\n'), Buffer.from([1, 2, 3])]));
    expect(screenshotToPng(png)).toBe(png);
    expect(() => screenshotToPng(Buffer.from('<svg/>'))).toThrow(/not a binary PPM/);
  });
});
