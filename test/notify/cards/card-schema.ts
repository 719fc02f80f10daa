import { createRequire } from 'node:module';
import { z } from 'zod';

/**
 * The Adaptive Card 1.3 subset Sightline emits, as a zod schema: anything else
 * in a card is a mistake. Webex shows at most five buttons.
 */
const httpUrl = z.string().refine((u) => /^https?:\/\//.test(u) && URL.canParse(u), 'must be an http(s) URL');

type Element = { type: string; [k: string]: unknown };
const element: z.ZodType<Element> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z.object({
      type: z.literal('TextBlock'),
      text: z.string().min(1),
      wrap: z.boolean().optional(),
      size: z.enum(['Small', 'Default', 'Medium', 'Large', 'ExtraLarge']).optional(),
      weight: z.enum(['Lighter', 'Default', 'Bolder']).optional(),
      color: z.enum(['Default', 'Dark', 'Light', 'Accent', 'Good', 'Warning', 'Attention']).optional(),
      isSubtle: z.boolean().optional(),
      italic: z.boolean().optional(),
      spacing: z.enum(['None', 'Small', 'Default', 'Medium', 'Large', 'ExtraLarge', 'Padding']).optional(),
    }).strict(),
    z.object({ type: z.literal('FactSet'), facts: z.array(z.object({ title: z.string(), value: z.string() }).strict()) }).strict(),
    z.object({
      type: z.literal('Container'),
      items: z.array(element),
      separator: z.boolean().optional(),
      spacing: z.string().optional(),
      style: z.enum(['default', 'emphasis', 'good', 'attention', 'warning', 'accent']).optional(),
    }).strict(),
  ]),
);

export const submitData = z.discriminatedUnion('action', [
  z.object({ action: z.literal('close_incident'), incidentId: z.string().min(1) }).strict(),
  z.object({ action: z.literal('show_sightings'), incidentId: z.string().min(1) }).strict(),
  z.object({ action: z.literal('list_incidents'), page: z.number().int().positive() }).strict(),
]);

const action = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Action.OpenUrl'), title: z.string().min(1), url: httpUrl }).strict(),
  z.object({ type: z.literal('Action.Submit'), title: z.string().min(1), data: submitData }).strict(),
]);

export const adaptiveCard13 = z
  .object({
    $schema: z.literal('http://adaptivecards.io/schemas/adaptive-card.json'),
    type: z.literal('AdaptiveCard'),
    version: z.literal('1.3'),
    body: z.array(element).min(1),
    actions: z.array(action).min(1).max(5).optional(),
  })
  .strict();

/**
 * The official `adaptivecards` renderer needs a DOM to render, but parses in
 * Node from its CommonJS bundle (its ESM build has extension-less imports
 * that Node refuses). Parsing reports unknown elements and bad properties.
 */
interface AcModule {
  AdaptiveCard: new () => { parse(json: unknown, ctx: unknown): void; toJSON(): Record<string, unknown> };
  SerializationContext: new () => { eventCount: number; getEventAt(i: number): { message: string } };
}
const ac = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as AcModule;

export function parseWithAdaptiveCards(card: unknown): { problems: string[]; json: Record<string, unknown> } {
  const parsed = new ac.AdaptiveCard();
  const ctx = new ac.SerializationContext();
  parsed.parse(card, ctx);
  const problems = Array.from({ length: ctx.eventCount }, (_, i) => ctx.getEventAt(i).message);
  return { problems, json: parsed.toJSON() };
}
