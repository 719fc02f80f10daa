import { renderAlreadyClosed, renderHelp, renderHuntStatus, renderIncidentList } from '../../notify/cards/index.js';
import { markdownReplies, type Replies, type ReplyContent } from './replies.js';

/**
 * Replies with Adaptive Cards from the notify/cards renderers. The markdown stays
 * the command layer's own (`base`): it is what clients without cards show, and it
 * carries the exact next command to type ("`incidents open 2` for more"), which
 * the card renderers do not know.
 */
export function cardReplies(base: Replies = markdownReplies): Replies {
  return {
    ...base,
    help: (commands) => withCard(base.help(commands), renderHelp([...commands]).card),
    huntStatus: (status) => withCard(base.huntStatus(status), renderHuntStatus(status).card),
    incidentAlreadyClosed: (closed, open) => withCard(base.incidentAlreadyClosed(closed, open), renderAlreadyClosed(closed, open)),
    incidentList: (page) =>
      withCard(base.incidentList(page), tagNextPage(renderIncidentList(page.items, page.page, page.total, page.pageSize).card, page.filter)),
  };
}

function withCard(reply: ReplyContent, card: Record<string, unknown> | undefined): ReplyContent {
  return card ? { ...reply, card } : reply;
}

/** The list card's "Next page" button does not know the filter; add it so page 2 of closed incidents stays closed. */
function tagNextPage(card: Record<string, unknown> | undefined, filter: string): Record<string, unknown> | undefined {
  if (!card || !Array.isArray(card.actions)) return card;
  const actions = card.actions.map((a: unknown) => {
    const action = a as { data?: Record<string, unknown> };
    return action.data?.action === 'list_incidents' ? { ...action, data: { ...action.data, filter } } : a;
  });
  return { ...card, actions };
}
