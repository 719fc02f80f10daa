import { z } from 'zod';

/** An optional `[page]` argument: a whole number from 1, default 1. Shared by every paged command. */
export const pageNumber = z
  .string()
  .regex(/^\d{1,6}$/, { error: 'the page must be a whole number, like 2' })
  .transform(Number)
  .refine((n) => n >= 1, { error: 'pages start at 1' })
  .optional()
  .transform((p) => p ?? 1);
