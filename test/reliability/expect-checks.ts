import { expect } from 'vitest';
import type { SuiteReport } from '../../reliability/support.js';

/** Every check of the suite passed, except the known issues (asserted separately with `it.fails`). */
export function expectChecksPass(report: SuiteReport, knownIssues: string[] = []): void {
  const failed = report.checks.filter((c) => !c.ok && !knownIssues.includes(c.name));
  expect(failed).toEqual([]);
  expect(report.checks.length).toBeGreaterThan(0);
}

export function checkOf(report: SuiteReport | undefined, name: string): boolean {
  const c = report?.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check named "${name}"`);
  return c.ok;
}
