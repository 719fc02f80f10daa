import { describe, expect, it } from 'vitest';
import { renderReport, replaceSuiteSection } from '../../reliability/report.js';
import type { SuiteReport } from '../../reliability/support.js';

function suite(title: string, figure: string): SuiteReport {
  return { title, tried: `tried ${title}`, figures: { figure }, checks: [{ name: `${title} ok`, ok: true }], findings: [], durationMs: 1000 };
}

describe('replaceSuiteSection (a suite re-run alone)', () => {
  const doc = renderReport([suite('1. One', 'a'), suite('6. Operations', 'old'), suite('7. Last', 'z')], { startedAt: new Date(0), command: 'x', notes: [] });

  it('replaces only the named section and keeps the others word for word', () => {
    const out = replaceSuiteSection(doc, suite('6. Operations', 'new'), 'run alone');
    expect(out).toContain('| figure | new |');
    expect(out).not.toContain('| figure | old |');
    expect(out).toContain('> run alone');
    const before = doc.split('## 6. Operations')[0];
    expect(out.startsWith(before!)).toBe(true);
    expect(out.slice(out.indexOf('## 7. Last'))).toBe(doc.slice(doc.indexOf('## 7. Last')));
  });

  it('replaces the last section up to the end of the document', () => {
    const out = replaceSuiteSection(doc, suite('7. Last', 'zz'), 'n');
    expect(out).toContain('| figure | zz |');
    expect(out.match(/## 7\. Last/g)).toHaveLength(1);
  });

  it('refuses a section the document does not have, with a sentence', () => {
    expect(() => replaceSuiteSection(doc, suite('9. Missing', 'q'), 'n')).toThrow(/no section "## 9. Missing"/);
  });
});
