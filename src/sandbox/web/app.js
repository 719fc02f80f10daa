// The sandbox's Webex-like client: spaces, messages, cards and the compose box.
// Everything goes through the page server: the emulator's test API under
// /_emulator (proxied), the mailbox under /api/mail and /api/sightings.
// No build step: plain ES modules.
import { renderCard } from './cards.js';
import { $, api, avatar, escapeHtml, h, md, timeOf } from './dom.js';
import { createMailbox } from './mailbox.js';
import { wireSightings } from './sightings.js';

const state = {
  people: [],
  bot: undefined,
  me: localStorage.getItem('sandbox.analyst') ?? '',
  rooms: new Map(),
  selectedRoomId: undefined,
  messages: new Map(), // roomId → EmuMessage[] (only rooms opened so far)
  unread: new Set(),
  view: 'space',
};

const personById = (id) => state.people.find((p) => p.id === id);
const personByEmail = (email) => state.people.find((p) => p.emails.includes(email));
const meName = () => personByEmail(state.me)?.displayName ?? state.me;

function setStatus(text) {
  $('#status-event').textContent = text;
}
function setLive(live) {
  $('#status-dot').classList.toggle('live', live);
  $('#status-live').textContent = live ? 'Live · connected to the Webex emulator' : 'Reconnecting to the Webex emulator…';
}

// ---------- rooms ----------
function roomLabel(room) {
  if (room.type !== 'direct') return room.title;
  return `${state.bot?.displayName ?? 'Bot'} · ${room.title}`;
}

function renderRooms() {
  const list = $('[data-testid="room-list"]');
  const rooms = [...state.rooms.values()].sort((a, b) => b.lastActivity.localeCompare(a.lastActivity));
  list.replaceChildren(
    ...rooms.map((room) => {
      const last = state.messages.get(room.id)?.at(-1);
      const preview = last ? `${personById(last.personId)?.displayName?.split(' ')[0] ?? last.personEmail}: ${last.attachments?.length ? '[card]' : (last.text ?? '')}` : `${room.members?.length ?? 0} members`;
      return h(
        'li',
        {
          class: `room-item${room.id === state.selectedRoomId ? ' selected' : ''}${state.unread.has(room.id) ? ' unread' : ''}`,
          'data-testid': 'room-item',
          'data-room-id': room.id,
          'data-title': room.title,
          onclick: () => selectRoom(room.id),
        },
        avatar(room.title, room.id, 'room'),
        h('div', { class: 'room-text' }, h('div', { class: 'room-title' }, roomLabel(room)), h('div', { class: 'room-preview' }, preview)),
        state.unread.has(room.id) ? h('span', { class: 'unread-dot' }) : undefined,
      );
    }),
  );
}

async function loadRooms() {
  const { items } = await api('/_emulator/rooms');
  for (const room of items) state.rooms.set(room.id, room);
  renderRooms();
  if (state.selectedRoomId) renderHeader();
}
let roomsTimer;
const refreshRoomsSoon = () => {
  clearTimeout(roomsTimer);
  roomsTimer = setTimeout(() => loadRooms().catch((e) => setStatus(e.message)), 50);
};

async function selectRoom(roomId) {
  state.selectedRoomId = roomId;
  state.unread.delete(roomId);
  showView('space');
  renderRooms();
  renderHeader();
  const { items } = await api(`/_emulator/rooms/${encodeURIComponent(roomId)}/messages`);
  // Messages that arrived over SSE while this request was in flight are kept.
  const merged = new Map([...items, ...(state.messages.get(roomId) ?? [])].map((m) => [m.id, m]));
  state.messages.set(roomId, [...merged.values()].sort((a, b) => a.created.localeCompare(b.created)));
  renderRooms();
  if (state.selectedRoomId === roomId) renderStream();
}

function renderHeader() {
  const room = state.rooms.get(state.selectedRoomId);
  if (!room) return;
  $('[data-testid="room-title"]').textContent = roomLabel(room);
  $('#room-sub').textContent = `${room.type === 'direct' ? '1:1 with the bot' : 'Space'} · ${(room.members ?? []).length} members`;
  $('#room-avatar').replaceWith(Object.assign(avatar(room.title, room.id), { id: 'room-avatar' }));
  updateCompose();
}

// ---------- messages ----------
// Webex renders `<@personEmail:x@y>` (and `<@personId:…|Name>`) as a highlighted @mention.
const MENTION = /<@(personEmail|personId):([^>|]+)(?:\|([^>]+))?>/g;
function renderMarkdown(markdown) {
  const mentions = [];
  const marked = markdown.replace(MENTION, (_all, kind, who, label) => {
    const person = kind === 'personEmail' ? personByEmail(who) : personById(who);
    mentions.push(label ?? person?.displayName ?? who);
    return `\u2063${mentions.length - 1}\u2063`;
  });
  return md.render(marked).replace(/\u2063(\d+)\u2063/g, (_all, i) => `<span class="mention">@${escapeHtml(mentions[Number(i)] ?? '')}</span>`);
}

function messageText(m) {
  if (m.markdown) return renderMarkdown(m.markdown);
  const text = m.text ?? '';
  const bot = state.bot;
  if (bot && m.mentionedPeople?.includes(bot.id) && text.startsWith(bot.displayName)) {
    return `<p><span class="mention">${escapeHtml(bot.displayName)}</span>${escapeHtml(text.slice(bot.displayName.length)).replace(/\n/g, '<br>')}</p>`;
  }
  return `<p>${escapeHtml(text).replace(/\n/g, '<br>')}</p>`;
}

function renderMessage(m) {
  const person = personById(m.personId);
  const name = person?.displayName ?? m.personEmail;
  const isBot = person?.type === 'bot';
  // Webex shows the card instead of the message text when a message carries one.
  const card = m.attachments?.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive');
  return h(
    'article',
    { class: `msg${isBot ? ' from-bot' : ''}${m.parentId ? ' reply' : ''}`, 'data-testid': 'message', 'data-message-id': m.id, 'data-person-email': m.personEmail },
    avatar(name, m.personEmail, isBot ? 'bot' : ''),
    h(
      'div',
      { class: 'msg-body' },
      h('header', { class: 'msg-head' }, h('span', { class: 'msg-author', 'data-testid': 'message-author' }, name), isBot ? h('span', { class: 'bot-tag' }, 'Bot') : undefined, h('time', { datetime: m.created }, timeOf(m.created))),
      card ? renderCard(card.content, (inputs, title) => submitCard(m, inputs, title)) : h('div', { class: 'msg-text markdown', 'data-testid': 'message-text', html: messageText(m) }),
      h('div', { class: 'thread', 'data-testid': 'thread' }),
    ),
  );
}

function appendMessage(m, stream) {
  const parent = m.parentId ? stream.querySelector(`[data-message-id="${CSS.escape(m.parentId)}"] > .msg-body > .thread`) : null;
  (parent ?? stream).append(renderMessage(m));
}

function renderStream() {
  const stream = $('[data-testid="stream"]');
  stream.replaceChildren();
  const items = state.messages.get(state.selectedRoomId) ?? [];
  if (items.length === 0) stream.append(h('p', { class: 'empty' }, 'No messages yet. Say hello to the bot below.'));
  for (const m of items) appendMessage(m, stream);
  stream.scrollTop = stream.scrollHeight;
}

function onMessage(m) {
  const room = state.rooms.get(m.roomId);
  if (!room) refreshRoomsSoon();
  else room.lastActivity = m.created;
  if (!personById(m.personId)) refreshPeopleSoon();
  if (m.roomId === state.selectedRoomId && !state.messages.has(m.roomId)) state.messages.set(m.roomId, []);
  const cached = state.messages.get(m.roomId);
  if (cached && !cached.some((x) => x.id === m.id)) cached.push(m);
  if (m.roomId === state.selectedRoomId) {
    const stream = $('[data-testid="stream"]');
    const atBottom = stream.scrollHeight - stream.scrollTop - stream.clientHeight < 80;
    stream.querySelector('.empty')?.remove();
    if (!stream.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`)) appendMessage(m, stream);
    if (atBottom || m.personEmail === state.me) stream.scrollTop = stream.scrollHeight;
  }
  if (m.roomId !== state.selectedRoomId || state.view !== 'space') state.unread.add(m.roomId);
  renderRooms();
  setStatus(`${personById(m.personId)?.displayName ?? m.personEmail} posted in ${room ? roomLabel(room) : 'a new space'}`);
}

async function submitCard(message, inputs, title) {
  await api('/_emulator/actions', { method: 'POST', body: JSON.stringify({ personEmail: state.me, messageId: message.id, inputs }) });
  return `✓ ${title} · sent as ${meName()}`;
}

// ---------- compose ----------
function updateCompose() {
  const box = $('[data-testid="compose"]');
  const room = state.rooms.get(state.selectedRoomId);
  const foreignDirect = room?.type === 'direct' && !(room.members ?? []).includes(state.me);
  box.disabled = !room || foreignDirect;
  box.placeholder = !room ? 'Select a space to write a message' : foreignDirect ? `This is another person's 1:1 with the bot: act as them to write here` : `Write a message to ${roomLabel(room)}`;
  $('#compose-hint').textContent = room?.type === 'group' ? `Enter to send · @${state.bot?.displayName ?? 'bot'} is mentioned for you · Shift+Enter for a new line` : 'Enter to send · Shift+Enter for a new line';
}

async function send(text) {
  const room = state.rooms.get(state.selectedRoomId);
  if (!room) return;
  const body = room.type === 'direct' ? { path: '/_emulator/direct', json: { personEmail: state.me, text } } : { path: `/_emulator/rooms/${encodeURIComponent(room.id)}/messages`, json: { personEmail: state.me, text, mentionBot: true } };
  await api(body.path, { method: 'POST', body: JSON.stringify(body.json) });
}

function wireCompose() {
  const box = $('[data-testid="compose"]');
  box.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    box.disabled = true;
    send(text)
      .then(() => (box.value = ''))
      .catch((err) => setStatus(`Could not send: ${err.message}`))
      .finally(() => {
        updateCompose();
        box.focus();
      });
  });
  box.addEventListener('input', () => {
    box.style.height = 'auto';
    box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
  });
  $('[data-testid="new-space"]').addEventListener('click', () => {
    const form = $('#new-space-form');
    form.hidden = !form.hidden;
    if (!form.hidden) $('[data-testid="new-space-title"]').focus();
  });
  $('#new-space-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('[data-testid="new-space-title"]');
    const title = input.value.trim();
    if (!title) return;
    try {
      const room = await api('/_emulator/rooms', { method: 'POST', body: JSON.stringify({ title, members: [state.me] }) });
      input.value = '';
      e.target.hidden = true;
      await loadRooms();
      await selectRoom(room.id);
    } catch (err) {
      setStatus(`Could not create the space: ${err.message}`);
    }
  });
}

// ---------- analysts ----------
let peopleTimer;
// Webex "invites" unknown addresses, so people can appear at any time.
const refreshPeopleSoon = () => {
  clearTimeout(peopleTimer);
  peopleTimer = setTimeout(async () => {
    try {
      state.people = (await api('/_emulator/people')).items;
      renderPicker();
      if (state.selectedRoomId && state.view === 'space') renderStream();
    } catch (err) {
      setStatus(err.message);
    }
  }, 100);
};

function renderPicker() {
  const select = $('[data-testid="analyst-picker"]');
  const analysts = state.people.filter((p) => p.type !== 'bot');
  if (!analysts.some((p) => p.emails.includes(state.me))) state.me = analysts[0]?.emails[0] ?? '';
  select.replaceChildren(...analysts.map((p) => h('option', { value: p.emails[0], selected: p.emails.includes(state.me), title: p.emails[0] }, p.displayName)));
  $('#me-avatar').replaceWith(Object.assign(avatar(meName(), state.me, 'small'), { id: 'me-avatar' }));
}

function wirePicker() {
  $('[data-testid="analyst-picker"]').addEventListener('change', (e) => {
    state.me = e.target.value;
    localStorage.setItem('sandbox.analyst', state.me);
    renderPicker();
    updateCompose();
    setStatus(`Acting as ${meName()}`);
  });
}

const mailbox = createMailbox({ setStatus, isVisible: () => state.view === 'mailbox' });

function showView(view) {
  state.view = view;
  for (const v of ['space', 'mailbox', 'sightings']) $(`#view-${v}`).hidden = v !== view;
  for (const tab of document.querySelectorAll('.strip-tab')) tab.classList.toggle('active', tab.dataset.view === view);
  mailbox.renderBadge();
}

// ---------- live updates ----------
function listenToEmulator() {
  const events = new EventSource('/_emulator/events');
  let wasDown = false;
  events.onopen = () => {
    setLive(true);
    // Anything that happened while disconnected is fetched again.
    if (wasDown) loadRooms().then(() => state.selectedRoomId && selectRoom(state.selectedRoomId)).catch(() => {});
  };
  events.onerror = () => {
    wasDown = true;
    setLive(false);
  };
  events.addEventListener('message', (e) => onMessage(JSON.parse(e.data).message));
  events.addEventListener('room', (e) => {
    const { room } = JSON.parse(e.data);
    if (!state.rooms.has(room.id)) state.rooms.set(room.id, { ...room, members: [] });
    renderRooms();
    refreshRoomsSoon();
    setStatus(`New space: ${room.title}`);
  });
  events.addEventListener('membership', refreshRoomsSoon);
  events.addEventListener('action', (e) => {
    const { action } = JSON.parse(e.data);
    setStatus(`${personById(action.personId)?.displayName ?? 'Someone'} submitted a card in ${roomLabel(state.rooms.get(action.roomId) ?? { title: 'a space' })}`);
  });
}

async function main() {
  for (const tab of document.querySelectorAll('.strip-tab')) tab.addEventListener('click', () => showView(tab.dataset.view));
  wireCompose();
  wirePicker();
  // Subscribe first so nothing created during the initial loads is missed.
  listenToEmulator();
  mailbox.listen();
  const [{ items: people }, config] = await Promise.all([api('/_emulator/people'), api('/api/config'), mailbox.load()]);
  state.people = people;
  state.bot = people.find((p) => p.type === 'bot');
  renderPicker();
  wireSightings(config.sightingsEnabled);
  await loadRooms();
  document.body.dataset.ready = 'true';
}

main().catch((err) => setStatus(`The sandbox page could not start: ${err.message}`));
