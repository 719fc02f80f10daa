// Small DOM and HTTP helpers shared by the sandbox page's modules.
import markdownit from '/vendor/markdown-it.mjs';

// html: false — message markdown comes from the bot and analysts; raw HTML is shown as text.
export const md = markdownit({ html: false, linkify: true, breaks: true });
export const $ = (sel) => document.querySelector(sel);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'html') el.innerHTML = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c);
  return el;
}

export async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message ?? `${path} answered ${res.status}`);
  return body;
}

export const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const initials = (name) => name.split(/[\s@._-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
const PALETTE = ['#4f63d2', '#0f8a6c', '#b5462b', '#8a4fbf', '#1e7ab8', '#a86b00', '#c23b73', '#3d7f2f'];
export function colorFor(key) {
  let n = 0;
  for (const ch of key) n = (n * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[n % PALETTE.length];
}
export function avatar(name, key, cls = '') {
  return h('div', { class: `avatar ${cls}`, style: `background:${colorFor(key)}`, title: name }, initials(name));
}
export function timeOf(iso) {
  const d = new Date(iso);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${time}`;
}
