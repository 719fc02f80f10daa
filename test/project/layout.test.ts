import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The layering the README's "How the code is laid out" promises, checked on the real tree:
// the domain has no I/O of its own and never reaches out to the edges (transport, bot,
// clients); it sees the outside only through the ports in src/domain/ports. The store sits
// below the transport too: the sightings journal is the store's business, not the route's.

const ROOT = resolve(import.meta.dirname, '../..');

/** Folders (from the repository root) a layer must not import from. */
const FORBIDDEN_FOLDERS: Record<string, string[]> = {
  'src/domain': ['src/transport', 'src/bot', 'src/clients', 'src/app'],
  'src/store': ['src/transport', 'src/bot', 'src/app'],
};

/** Node modules that do I/O (files, sockets, processes) and packages that wrap it. */
const IO_MODULES = new Set([
  'fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'dns/promises', 'tls', 'child_process',
  'cluster', 'worker_threads', 'readline', 'os',
  'express', 'undici', 'webex', 'webex-node-bot-framework', 'ws', 'nodemailer', 'lowdb', 'lowdb/node', 'pg', 'postgres',
]);

/** `isIP` and friends from node:net are pure string checks, not I/O. */
const PURE_NET_EXPORTS = new Set(['isIP', 'isIPv4', 'isIPv6']);

interface ImportOf {
  specifier: string;
  /** Named bindings of a static import; undefined for default, namespace, side-effect and dynamic imports. */
  names?: string[];
}

function importsOf(fileName: string, source: string): ImportOf[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: ImportOf[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      let names: string[] | undefined;
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        const bindings = clause?.namedBindings;
        if (clause && !clause.name && bindings && ts.isNamedImports(bindings)) names = bindings.elements.map((e) => (e.propertyName ?? e.name).text);
      }
      found.push({ specifier: node.moduleSpecifier.text, names });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      found.push({ specifier: arg && ts.isStringLiteralLike(arg) ? arg.text : '<computed>' });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** What is wrong with one file's imports, as "file: specifier (why)"; `file` is relative to the repository root. */
function layerProblems(file: string, source: string): string[] {
  const layer = Object.keys(FORBIDDEN_FOLDERS).find((l) => file.startsWith(`${l}/`));
  if (!layer) return [];
  const problems: string[] = [];
  for (const { specifier, names } of importsOf(file, source)) {
    if (specifier.startsWith('.')) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).split('\\').join('/');
      const folder = FORBIDDEN_FOLDERS[layer]!.find((f) => target === f || target === `${f}.js` || target.startsWith(`${f}/`));
      if (folder) problems.push(`${file}: ${specifier} (${layer} must not import from ${folder})`);
      continue;
    }
    if (layer !== 'src/domain') continue;
    const bare = specifier.replace(/^node:/, '');
    if (specifier === '<computed>') problems.push(`${file}: a computed import() (the domain's imports must be visible)`);
    else if (bare === 'net' && names && names.length > 0 && names.every((n) => PURE_NET_EXPORTS.has(n))) continue;
    else if (IO_MODULES.has(bare)) problems.push(`${file}: ${specifier} (the domain does no I/O: take a port instead)`);
  }
  return problems;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${folder}/${f.split('\\').join('/')}`);
}

describe('the layout', () => {
  it('the domain imports nothing from transport, bot, clients or node I/O, and the store nothing from transport or bot', () => {
    const files = [...sourceFiles('src/domain'), ...sourceFiles('src/store')];
    expect(files.length).toBeGreaterThan(40);
    const problems = files.flatMap((f) => layerProblems(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(problems).toEqual([]);
  });

  it('the sightings journal lives in the store, and the ports the domain implements live in the domain', () => {
    const domain = sourceFiles('src/domain');
    expect(domain).toEqual(expect.arrayContaining(['src/domain/ports/services.ts', 'src/domain/ports/xdr.ts']));
    expect(sourceFiles('src/store')).toEqual(expect.arrayContaining(['src/store/journal/journal.ts', 'src/store/journal/intake.ts']));
    expect(sourceFiles('src/transport').filter((f) => /journal|intake/.test(f))).toEqual([]);
    expect(sourceFiles('src/bot').filter((f) => /services\.ts$/.test(f))).toEqual([]);
  });

  it('the check catches what it is meant to catch', () => {
    const bad = [
      "import type { SightingJournal } from '../../transport/http/sightings/journal.js';",
      "import { BotDispatcher } from '../../bot/dispatcher.js';",
      "export { XdrHttpClient } from '../../clients/xdr/client.js';",
      "import { readFile } from 'node:fs/promises';",
      "import * as net from 'node:net';",
      "import { createServer, isIP } from 'net';",
      "const m = await import('undici');",
      "const m = await import(name);",
    ];
    for (const line of bad) expect(layerProblems('src/domain/correlation/x.ts', line), line).toHaveLength(1);
    const fine = [
      "import { isIP } from 'node:net';",
      "import { createHash } from 'node:crypto';",
      "import { z } from 'zod';",
      "import type { XdrPort } from '../ports/xdr.js';",
      "import type { Store } from '../../store/store.js';",
      "import { transportName } from './transport.js';",
    ];
    for (const line of fine) expect(layerProblems('src/domain/correlation/x.ts', line), line).toEqual([]);
    expect(layerProblems('src/store/journal/x.ts', "import { route } from '../../transport/http/sightings/route.js';")).toHaveLength(1);
    expect(layerProblems('src/store/journal/x.ts', "import { readFile } from 'node:fs/promises';")).toEqual([]);
    expect(layerProblems('src/transport/http/x.ts', "import express from 'express';")).toEqual([]);
  });
});
