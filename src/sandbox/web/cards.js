// Adaptive cards rendered by Microsoft's renderer (window.AdaptiveCards, the UMD
// bundle) with a Webex-like host config. Action.Submit goes to the caller's
// `submit(inputs)`, which answers with the feedback line shown under the card.
import { h, md } from './dom.js';

const AC = window.AdaptiveCards;

AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = md.render(text);
  result.didProcess = true;
};

const foreground = {
  default: { default: '#1a1a1a', subtle: '#6b6b6b' },
  dark: { default: '#000000', subtle: '#4a4a4a' },
  light: { default: '#ffffff', subtle: '#f0f0f0' },
  accent: { default: '#0a78cc', subtle: '#2a8ad6' },
  good: { default: '#1d805f', subtle: '#2c9b75' },
  warning: { default: '#b86200', subtle: '#c97a1e' },
  attention: { default: '#d4371c', subtle: '#e0573f' },
};

const hostConfig = new AC.HostConfig({
  fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, sans-serif',
  spacing: { small: 4, default: 8, medium: 16, large: 24, extraLarge: 32, padding: 16 },
  separator: { lineThickness: 1, lineColor: '#e4e4e4' },
  fontSizes: { small: 12, default: 14, medium: 16, large: 20, extraLarge: 24 },
  fontWeights: { lighter: 300, default: 400, bolder: 600 },
  containerStyles: {
    default: { backgroundColor: '#ffffff', foregroundColors: foreground },
    emphasis: { backgroundColor: '#f4f5f7', foregroundColors: foreground },
    good: { backgroundColor: '#e8f6f0', foregroundColors: foreground },
    warning: { backgroundColor: '#fff4e0', foregroundColors: foreground },
    attention: { backgroundColor: '#fdecea', foregroundColors: foreground },
    accent: { backgroundColor: '#e6f2fb', foregroundColors: foreground },
  },
  actions: { maxActions: 5, spacing: 'default', buttonSpacing: 8, showCard: { actionMode: 'inline', inlineTopMargin: 12 }, actionsOrientation: 'horizontal', actionAlignment: 'left' },
  factSet: { title: { weight: 'bolder', wrap: true, maxWidth: 160 }, value: { wrap: true }, spacing: 12 },
});

/** `submit(inputs, title)` resolves with the feedback text or rejects with the reason. */
export function renderCard(content, submit) {
  const holder = h('div', { class: 'card' });
  const feedback = h('div', { class: 'card-feedback', 'data-testid': 'card-feedback' });
  const card = new AC.AdaptiveCard();
  card.hostConfig = hostConfig;
  card.onExecuteAction = (action) => void execute(action, submit, holder, feedback);
  try {
    card.parse(content);
    holder.append(card.render());
  } catch (err) {
    holder.append(h('p', { class: 'card-error' }, `This card could not be rendered: ${err.message}`));
  }
  return h('div', {}, holder, feedback);
}

async function execute(action, submit, holder, feedback) {
  const type = action.getJsonTypeName();
  if (type === 'Action.OpenUrl') return void window.open(action.url, '_blank', 'noopener');
  if (type !== 'Action.Submit') return;
  // `data` is the button's data merged with the card's input values, as Webex sends them.
  const inputs = action.data ?? {};
  holder.classList.add('busy');
  try {
    feedback.textContent = await submit(inputs, action.title ?? 'Submitted');
    feedback.className = 'card-feedback ok';
  } catch (err) {
    feedback.textContent = `Could not submit: ${err.message}`;
    feedback.className = 'card-feedback error';
  } finally {
    holder.classList.remove('busy');
  }
}
