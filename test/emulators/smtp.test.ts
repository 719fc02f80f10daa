import nodemailer, { type SendMailOptions } from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeEncodedWords, decodeQuotedPrintable, parseMail } from '../../src/emulators/smtp/mime.js';
import { SmtpEmulator, type ReceivedMail } from '../../src/emulators/smtp/server.js';

describe('SmtpEmulator', () => {
  let smtp: SmtpEmulator;
  let port: number;

  beforeEach(async () => {
    smtp = new SmtpEmulator();
    ({ port } = await smtp.start());
  });
  afterEach(() => smtp.stop());

  const send = (mail: SendMailOptions, auth?: { user: string; pass: string }) =>
    nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, auth }).sendMail(mail);

  it('listens on loopback and keeps each message with envelope, decoded subject and text', async () => {
    expect(smtp.messages).toEqual([]);
    const seen: ReceivedMail[] = [];
    smtp.on('message', (m) => seen.push(m));
    await send({
      from: 'sightline@localhost',
      to: ['soc@example.com', 'lead@example.com'],
      bcc: 'audit@example.com',
      subject: 'Found targets – Win.Packed.Zusy-9878674-0 ✓',
      text: `Zusy injects into "explorer.exe" — é€ ${'long line '.repeat(40)}`,
      html: '<p>html part</p>',
    });
    const [m] = smtp.messages;
    expect(m!.from).toBe('sightline@localhost');
    expect(m!.to).toEqual(['soc@example.com', 'lead@example.com', 'audit@example.com']);
    expect(m!.subject).toBe('Found targets – Win.Packed.Zusy-9878674-0 ✓');
    expect(m!.text).toBe(`Zusy injects into "explorer.exe" — é€ ${'long line '.repeat(40)}`);
    expect(m!.html).toBe('<p>html part</p>');
    expect(m!.raw).toContain('Content-Type: multipart/alternative');
    expect(seen).toEqual([m]);
  });

  it('accepts any login', async () => {
    await send({ from: 'a@example.com', to: 'b@example.com', subject: 'auth', text: 'x' }, { user: 'any', pass: 'thing' });
    expect((await smtp.waitFor((m) => m.subject === 'auth')).to).toEqual(['b@example.com']);
  });

  it('waitFor resolves on a later message and rejects with what it saw on timeout', async () => {
    const waiting = smtp.waitFor((m) => m.subject === 'second', 5000);
    await send({ from: 'a@example.com', to: 'b@example.com', subject: 'first', text: '1' });
    await send({ from: 'a@example.com', to: 'b@example.com', subject: 'second', text: '2' });
    expect((await waiting).text).toBe('2');
    await expect(smtp.waitFor((m) => m.subject === 'never', 50)).rejects.toThrow('received subjects: first | second');
  });

  it('refuses the next N messages with 451, then accepts again', async () => {
    smtp.failNext(2);
    const msg = { from: 'a@example.com', to: 'b@example.com', subject: 'retry me', text: 'x' };
    await expect(send(msg)).rejects.toMatchObject({ responseCode: 451 });
    await expect(send(msg)).rejects.toMatchObject({ responseCode: 451 });
    await send(msg);
    expect(smtp.messages).toHaveLength(1);
    smtp.clear();
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('mime helpers', () => {
  it('decodes RFC 2047 words and quoted-printable', () => {
    expect(decodeEncodedWords('=?UTF-8?Q?Found_targets_=E2=80=93_x?=')).toBe('Found targets – x');
    expect(decodeEncodedWords('=?UTF-8?B?w6k=?= =?UTF-8?B?4oKs?=')).toBe('é€');
    expect(decodeQuotedPrintable('caf=C3=A9 =\r\nbar')).toBe('café bar');
  });

  it('parses a single-part base64 message', () => {
    const raw = ['Subject: hi', 'From: A <a@example.com>', 'To: b@example.com, "C" <c@example.com>', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', Buffer.from('héllo').toString('base64'), ''].join('\r\n');
    expect(parseMail(raw)).toMatchObject({ subject: 'hi', from: 'a@example.com', to: ['b@example.com', 'c@example.com'], text: 'héllo' });
  });
});
