import { describe, expect, it } from 'vitest';
import { refang } from '../../../src/domain/ioc/refang.js';

describe('refang', () => {
  it.each([
    ['007dhl[.]free3v[.]net', '007dhl.free3v.net'],
    ['154[.]204[.]34[.]27', '154.204.34.27'],
    ['67[.]195[.]228[.]110/31', '67.195.228.110/31'],
    ['evil(.)com', 'evil.com'],
    ['evil[dot]com', 'evil.com'],
    ['evil[DOT]com', 'evil.com'],
    ['hxxp://evil[.]com/a', 'http://evil.com/a'],
    ['hxxps://evil[.]com', 'https://evil.com'],
    ['HXXPS://evil.com', 'https://evil.com'],
    ['https[:]//evil.com', 'https://evil.com'],
    ['bad[@]evil.com', 'bad@evil.com'],
    ['bad[at]evil.com', 'bad@evil.com'],
    ['  evil[.]com \n', 'evil.com'],
    ['already.clean.com', 'already.clean.com'],
  ])('%s → %s', (input, expected) => {
    expect(refang(input)).toBe(expected);
  });

  it('leaves brackets that are not a defang pattern alone (real 2023/1110 IPv6 fragments)', () => {
    expect(refang('[240e')).toBe('[240e');
  });
});
