import type { InvestigationReport } from '../domain/investigate/report.js';
import type { RejectedValue } from '../domain/types.js';
import type { ActionRecord, ConfirmOutcome, Offer } from '../services/response-actions.js';

/**
 * What the `investigate` and `actions` commands and the card's action buttons
 * drive. `Investigator` implements it; commands depend on nothing else.
 */
export interface XdrCallCounts {
  deliberate: number;
  observe: number;
  refer: number;
  respond: number;
}

export type InvestigationOutcome =
  | { kind: 'none'; rejected: RejectedValue[] }
  | { kind: 'report'; report: InvestigationReport; calls: XdrCallCounts; fromCache: number };

export interface InvestigationService {
  /** Throws ValidationError above INVESTIGATE_MAX_OBSERVABLES and UpstreamError (with a sentence) when XDR fails. */
  investigate(text: string, requestedBy: string): Promise<InvestigationOutcome>;
  askAction(offerId: string, by: string): Promise<{ confirmationId: string; offer: Offer }>;
  confirmAction(confirmationId: string, by: string): Promise<ConfirmOutcome>;
  cancelAction(confirmationId: string, by: string): Promise<{ cancelled: boolean; offer?: Offer; status?: string }>;
  actions(page: number, pageSize: number): { items: ActionRecord[]; total: number };
}
