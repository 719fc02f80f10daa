// The Mailbox tab: every e-mail the SMTP emulator received, live over SSE.
import { $, api, h, timeOf } from './dom.js';

export function createMailbox({ setStatus, isVisible }) {
  const mails = [];
  let seen = 0;
  let selectedId;

  const add = (m) => {
    if (mails.some((x) => x.id === m.id)) return false;
    mails.push(m);
    return true;
  };

  function renderBadge() {
    if (isVisible()) seen = mails.length;
    const badge = $('[data-testid="mail-badge"]');
    badge.hidden = mails.length - seen <= 0;
    badge.textContent = String(mails.length - seen);
  }

  function render() {
    $('#mail-count').textContent = mails.length ? `${mails.length} e-mail(s)` : 'No e-mail yet';
    $('#mail-list').replaceChildren(
      ...[...mails].reverse().map((m) =>
        h(
          'li',
          { class: `mail-item${m.id === selectedId ? ' selected' : ''}`, 'data-testid': 'mail-item', 'data-mail-id': m.id, onclick: () => select(m.id) },
          h('div', { class: 'mail-line' }, h('span', { class: 'mail-to' }, m.to.join(', ')), h('time', {}, timeOf(m.receivedAt))),
          h('div', { class: 'mail-subject', 'data-testid': 'mail-subject' }, m.subject || '(no subject)'),
          h('div', { class: 'mail-snippet' }, m.text.slice(0, 120)),
        ),
      ),
    );
    renderBadge();
  }

  function select(id) {
    selectedId = id;
    render();
    const m = mails.find((x) => x.id === id);
    if (!m) return;
    // The HTML part is shown in a sandboxed frame: no scripts, no same-origin access.
    const html = m.html ? h('details', {}, h('summary', {}, 'HTML part'), h('iframe', { class: 'mail-html', sandbox: '', srcdoc: m.html, title: 'HTML part' })) : undefined;
    $('#mail-detail').replaceChildren(
      h('h2', {}, m.subject || '(no subject)'),
      h('dl', { class: 'mail-meta' }, h('dt', {}, 'From'), h('dd', {}, m.from), h('dt', {}, 'To'), h('dd', {}, m.to.join(', ')), h('dt', {}, 'Received'), h('dd', {}, new Date(m.receivedAt).toLocaleString())),
      h('pre', { class: 'mail-body', 'data-testid': 'mail-body' }, m.text),
      html,
    );
  }

  async function load() {
    const { items } = await api('/api/mail');
    items.forEach(add);
    render();
  }

  function listen() {
    const events = new EventSource('/api/mail/events');
    let wasDown = false;
    events.onerror = () => (wasDown = true);
    // Mail that arrived while disconnected is fetched again.
    events.onopen = () => wasDown && load().catch(() => {});
    events.addEventListener('mail', (e) => {
      const m = JSON.parse(e.data);
      if (!add(m)) return;
      render();
      setStatus(`E-mail to ${m.to.join(', ')}: ${m.subject}`);
    });
  }

  return { load, listen, renderBadge };
}
