import { beforeAll, describe, expect, it } from 'vitest';
import { runSecurity } from '../../reliability/security.js';
import type { SuiteReport } from '../../reliability/support.js';
import { checkOf, expectChecksPass } from './expect-checks.js';

/** Suite 5 without `npm audit` (CI has no registry). */
const HTML_413 = 'the 413 from /webex/webhook is JSON with a reason (not an HTML error page)';

describe('reliability: security', () => {
  let report: SuiteReport;
  beforeAll(async () => {
    report = await runSecurity({ audit: false });
  }, 60_000);

  it('rejects unsigned, forged and replayed webhooks, keeps hunt blog on the allow-list, keeps secrets out of logs, limits size and rate', () => {
    expectChecksPass(report);
    expect(report.checks.length).toBeGreaterThan(15);
  });

  it('/webex/webhook answers 413 as JSON (found by the full run: it was an HTML page with a stack trace)', () => {
    expect(checkOf(report, HTML_413)).toBe(true);
  });
});
