import { z } from 'zod';

/**
 * Shapes of the XDR answers Sightline reads (xdr-api.md §3–§5). Lenient on
 * purpose: unknown keys pass through, optional keys stay optional, and a single
 * malformed doc is reported instead of failing a whole enrichment answer.
 */
export const observableSchema = z.looseObject({ type: z.string().min(1), value: z.string().min(1) });

export const verdictDocSchema = z.looseObject({
  type: z.string().optional(),
  disposition: z.number().int().min(1).max(5),
  // Optional in real answers: map from the number (PYSDK build_array_for_verdicts does the same).
  disposition_name: z.string().optional(),
  observable: observableSchema,
});

const timeRangeSchema = z.looseObject({ start_time: z.string().optional(), end_time: z.string().optional() });

export const targetSchema = z.looseObject({
  type: z.string(),
  observables: z.array(observableSchema).default([]),
  observed_time: timeRangeSchema.optional(),
  os: z.string().optional(),
});

export const sightingDocSchema = z.looseObject({
  id: z.string().optional(),
  source: z.string().optional(),
  internal: z.boolean().optional(),
  observables: z.array(observableSchema).optional(),
  targets: z.array(targetSchema).optional(),
  observed_time: timeRangeSchema.optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  source_uri: z.string().optional(),
});

/** `{count, docs}`; docs stay unknown here and are parsed one by one. */
const docsSchema = z.looseObject({ count: z.number().optional(), docs: z.array(z.unknown()).default([]) });

export const moduleResultSchema = z.looseObject({
  module: z.string().optional(),
  module_instance_id: z.string().optional(),
  module_type_id: z.string().optional(),
  // Older SecureX answers name the module type with this key instead of / besides module_type_id.
  'module-type': z.string().optional(),
  data: z
    .looseObject({ verdicts: docsSchema.optional(), sightings: docsSchema.optional() })
    .nullish()
    .transform((d) => d ?? {}),
});
export type ModuleResult = z.infer<typeof moduleResultSchema>;

export const moduleErrorSchema = z.looseObject({
  module: z.string().optional(),
  module_instance_id: z.string().optional(),
  module_type_id: z.string().optional(),
  code: z.string().default('unknown'),
  message: z.string().default(''),
  type: z.string().optional(),
});

export const enrichEnvelopeSchema = z.looseObject({
  data: z.array(moduleResultSchema).nullish().transform((d) => d ?? []),
  errors: z.array(moduleErrorSchema).nullish().transform((e) => e ?? []),
});
export type EnrichEnvelope = z.infer<typeof enrichEnvelopeSchema>;

export const inspectResponseSchema = z.array(observableSchema);

export const responseActionSchema = z.looseObject({
  id: z.string(),
  title: z.string().default(''),
  description: z.string().optional(),
  module: z.string().default(''),
  module_instance_id: z.string(),
  module_type_id: z.string().optional(),
  url: z.string().optional(),
  categories: z.array(z.string()).optional(),
});

export const responseActionsEnvelopeSchema = z.looseObject({
  data: z.array(responseActionSchema).nullish().transform((d) => d ?? []),
  errors: z.array(moduleErrorSchema).nullish().transform((e) => e ?? []),
});

export const triggerEnvelopeSchema = z.looseObject({
  data: z.looseObject({ status: z.string() }),
  errors: z.array(moduleErrorSchema).nullish().transform((e) => e ?? []),
});

/** Any stored CTIA entity: only the long id is required for us. */
export const ctiaEntitySchema = z.looseObject({ id: z.string().min(1) });
export const ctiaEntityListSchema = z.array(ctiaEntitySchema);

/** A page of the status sync's incident search (`fields=id,status,created`). */
export const incidentStatusListSchema = z.array(z.looseObject({ id: z.string().min(1), status: z.string().optional(), created: z.string().optional() }));

/** IROH refer `Ref` (xdr-api.md §3.4); lenient like the rest: a link without a url is skipped by the client. */
export const referLinkSchema = z.looseObject({
  id: z.string().optional(),
  module: z.string().default(''),
  title: z.string().default(''),
  description: z.string().optional(),
  url: z.string().optional(),
});

export const referEnvelopeSchema = z.looseObject({
  data: z.array(referLinkSchema).nullish().transform((d) => d ?? []),
  errors: z.array(moduleErrorSchema).nullish().transform((e) => e ?? []),
});
