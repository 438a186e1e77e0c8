/**
 * The one place where a request's body, query or path parameters meet their schema (./schemas/):
 * the value the schema gives, or a 400 `invalid_request` with the schema's message whose `field`
 * names what is wrong. An unknown field is named before a bad value of a known one.
 */
import type { z } from 'zod';
import { HttpError } from './http-error.js';

/** Where the input comes from; names the field when the whole input is wrong (a body that is no object). */
export type RequestPart = 'body' | 'query' | 'path';

export function parseRequest<S extends z.ZodType>(schema: S, input: unknown, part: RequestPart): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  throw new HttpError(400, 'invalid_request', issue.message, fieldOf(issue, part));
}

function fieldOf(issue: z.core.$ZodIssue, part: RequestPart): string {
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) return issue.keys[0];
  const top = issue.path[0];
  return top === undefined ? part : String(top);
}
