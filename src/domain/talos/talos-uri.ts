/**
 * What a `hunt blog <uri>` address points at, as pure URL logic:
 * - `github.com/{owner}/{repo}/blob/{branch}/{path}`: one IOC file (read from the raw host);
 * - `github.com/{owner}/{repo}/tree/{branch}/YYYY/MM`: every post of that folder;
 * - `*.talosintelligence.com/…`: a blog post, found through its bundle's observed-data url;
 * - anything else: a file read as it is (a raw IOC file or a roundup).
 */
export type TalosUri =
  | { kind: 'file'; url: string }
  | { kind: 'repo-file'; owner: string; repo: string; branch: string; path: string }
  | { kind: 'folder'; owner: string; repo: string; branch: string; path: string }
  | { kind: 'blog'; url: string; slug: string };

export function classifyTalosUri(uri: string): TalosUri {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { kind: 'file', url: uri }; // the allow-list check explains what is wrong
  }
  const host = url.hostname.toLowerCase();
  if (host === 'github.com' || host === 'www.github.com') {
    const m = /^\/([^/]+)\/([^/]+)\/(blob|tree)\/([^/]+)\/(.+?)\/?$/.exec(url.pathname);
    if (m) {
      const [, owner, repo, what, branch, rawPath] = m as unknown as [string, string, string, string, string, string];
      const path = decodeURIComponent(rawPath);
      return what === 'blob' ? { kind: 'repo-file', owner, repo, branch, path } : { kind: 'folder', owner, repo, branch, path };
    }
  }
  if (host === 'talosintelligence.com' || host.endsWith('.talosintelligence.com')) {
    const slug = url.pathname.replace(/\.html?$/, '').split('/').filter(Boolean).at(-1) ?? '';
    return { kind: 'blog', url: url.href, slug };
  }
  return { kind: 'file', url: url.href };
}

/** Blog addresses compare without scheme, `www.`, `blog.`, trailing slash or `.html`, and case. */
export function sameBlogPost(a: string, b: string): boolean {
  return normalizeBlogUrl(a) === normalizeBlogUrl(b);
}

function normalizeBlogUrl(u: string): string {
  return u
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .replace(/^(www\.|blog\.)/, '')
    .replace(/[?#].*$/, '')
    .replace(/\.html?$/, '')
    .replace(/\/+$/, '');
}

/** The folders (`YYYY/MM`) to search for a blog post: this month and the `count - 1` before it. */
export function recentMonthFolders(now: Date, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(`${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
  }
  return out;
}
