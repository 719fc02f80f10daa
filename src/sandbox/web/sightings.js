// The "Send sightings" tab: the page server signs the batch and posts it to Sightline.
import { $, api } from './dom.js';

export function wireSightings(enabled) {
  const form = $('#sightings-form');
  const result = $('[data-testid="sightings-result"]');
  if (!enabled) {
    $('#sightings-note').textContent = 'Sending sightings is off: the sandbox was started without a Sightline sightings URL and HMAC secret.';
    $('[data-testid="sightings-send"]').disabled = true;
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const payload = { target: data.get('target'), ioc: data.get('ioc'), count: Number(data.get('count') || 1) };
    if (data.get('iocType')) payload.iocType = data.get('iocType');
    result.hidden = false;
    result.className = 'sightings-result';
    result.textContent = 'Sending…';
    try {
      const answer = await api('/api/sightings', { method: 'POST', body: JSON.stringify(payload) });
      result.classList.add(answer.sightlineStatus < 300 ? 'ok' : 'error');
      result.textContent = `Sent ${answer.sent} sighting(s); Sightline answered ${answer.sightlineStatus}\n${JSON.stringify(answer.answer, null, 2)}`;
    } catch (err) {
      result.classList.add('error');
      result.textContent = err.message;
    }
  });
}
