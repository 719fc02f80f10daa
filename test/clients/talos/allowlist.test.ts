import { describe, expect, it } from 'vitest';
import { checkRoundupUri } from '../../../src/clients/talos/allowlist.js';
import { UriRefusedError } from '../../../src/core/errors.js';

const DEFAULT_HOSTS = ['raw.githubusercontent.com', 's3.amazonaws.com', 'talosintelligence.com', 'blog.talosintelligence.com'];

function refusal(uri: string, hosts = DEFAULT_HOSTS): string {
  try {
    checkRoundupUri(uri, hosts);
  } catch (err) {
    expect(err).toBeInstanceOf(UriRefusedError);
    return (err as UriRefusedError).userMessage;
  }
  throw new Error(`${uri} was accepted`);
}

describe('checkRoundupUri', () => {
  it.each([
    'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2023/1110.json',
    'https://s3.amazonaws.com/talos-intelligence-site/production/document_files/files/000/095/597/original/20210723-tru.json.txt?1623962447',
    'https://www.talosintelligence.com/x.json',
    'https://RAW.githubusercontent.com./Cisco-Talos/x.json',
    'https://raw.githubusercontent.com:443/x.json',
    'http://raw.githubusercontent.com/x.json',
  ])('accepts %s', (uri) => {
    expect(checkRoundupUri(uri, DEFAULT_HOSTS)).toBeInstanceOf(URL);
  });

  it('refuses other hosts, including look-alikes', () => {
    expect(refusal('https://evil.example/x.json')).toMatch(/evil\.example is not on the Talos allow-list.*TALOS_ALLOWED_HOSTS/);
    expect(refusal('https://raw.githubusercontent.com.evil.example/x.json')).toMatch(/not on the Talos allow-list/);
    expect(refusal('https://notraw.githubusercontent.com.example/x')).toMatch(/not on the Talos allow-list/);
    expect(refusal('https://eviltalosintelligence.com/x')).toMatch(/not on the Talos allow-list/);
  });

  it('refuses non-http(s) schemes', () => {
    expect(refusal('file:///etc/passwd')).toMatch(/Only http\(s\) addresses.*file:/);
    expect(refusal('ftp://raw.githubusercontent.com/x')).toMatch(/Only http\(s\)/);
  });

  it('refuses credentials in the URL', () => {
    expect(refusal('https://user:pw@raw.githubusercontent.com/x.json')).toMatch(/user name or password/);
  });

  it('refuses a non-default port unless that host:port is listed', () => {
    expect(refusal('https://raw.githubusercontent.com:8443/x.json')).toMatch(/raw\.githubusercontent\.com:8443 is not on the Talos allow-list/);
    expect(checkRoundupUri('https://mirror.example:8443/x.json', ['mirror.example:8443']).port).toBe('8443');
    expect(refusal('https://sub.mirror.example:8443/x.json', ['mirror.example:8443'])).toMatch(/not on the Talos allow-list/);
  });

  it.each(['http://127.0.0.1/x', 'http://10.0.0.5/x', 'http://[::1]/x', 'http://2130706433/x', 'http://0x7f.1/x', 'http://169.254.169.254/latest/meta-data'])(
    'refuses the IP literal %s',
    (uri) => {
      expect(refusal(uri, [...DEFAULT_HOSTS, '127.0.0.1', '10.0.0.5', '169.254.169.254'])).toMatch(/given as an IP/);
    },
  );

  it('refuses localhost and its subdomains', () => {
    expect(refusal('http://localhost/x', ['localhost'])).toMatch(/localhost addresses are refused/);
    expect(refusal('http://a.localhost/x', ['localhost'])).toMatch(/localhost addresses are refused/);
  });

  it('allows an IP literal only when the exact ip:port is listed (the local emulator)', () => {
    expect(checkRoundupUri('http://127.0.0.1:41234/x.json', ['127.0.0.1:41234']).host).toBe('127.0.0.1:41234');
    expect(refusal('http://127.0.0.1:41235/x.json', ['127.0.0.1:41234'])).toMatch(/given as an IP/);
    expect(checkRoundupUri('http://[::1]:41234/x', ['[::1]:41234']).port).toBe('41234');
    expect(checkRoundupUri('http://localhost:41234/x', ['localhost:41234']).port).toBe('41234');
  });

  it('refuses garbage and an empty allow-list', () => {
    expect(refusal('not a url')).toMatch(/is not a valid URL/);
    expect(refusal('https://raw.githubusercontent.com/x', [])).toMatch(/allow-list \(empty\)/);
  });
});
