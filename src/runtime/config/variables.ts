/**
 * The kinds of value an environment variable can hold (text, integer, seconds, flag, percentage, one
 * of a list, or a value with its own parse), each a zod schema that reads the variable's text the
 * same way: blank counts as unset (so `X=` in .env means "not set"), an unset variable takes its
 * documented default, and a bad value becomes an issue whose message the loader prefixes with the
 * variable's name ("PORT: must be an integer from 0 to 65535, got "abc"").
 *
 * Each variable also carries its documentation in `variableDocs`: what it does, its default as one
 * would write it, and where it is documented. The README's table is generated from it and the tests
 * hold .env.example and the deployment files against it, so the documentation cannot drift.
 */
import { z } from 'zod';

export interface VariableDoc {
  /** What the variable does, as the README's table says it (Markdown, one line). */
  doc: string;
  /** The value used when the variable is unset, written as one would set it; parsed like a given value. */
  default?: string;
  /** How the README states a default that depends on other settings or the machine (Markdown). */
  defaultText?: string;
  /** Its value never appears in a message (tokens, passwords, URLs that may carry either). */
  secret?: boolean;
  /** docker-compose.yaml passes it from `.env`, so `.env.example` shows it. */
  envExample?: boolean;
  /** For the test suite only (failure injection): documented here, not in the README. */
  internal?: boolean;
}

/** The documentation of every variable, keyed by its schema. */
export const variableDocs = z.registry<VariableDoc>();

/** What a kind's parse returns: the value, or what is wrong with the text (without the variable's name). */
export type Parsed<T> = { value: T } | { problem: string };

/** The documentation a variable is declared with; its default is given as a value of its kind. */
export type Described = Omit<VariableDoc, 'default'>;

/** A variable with a default always has a value; one without may be undefined. */
export type Out<T, S> = S extends { default: unknown } ? T : T | undefined;

/** The schema of one variable: its text (or nothing) in, its value out. */
export type Variable<T> = z.ZodPipe<z.ZodOptional<z.ZodString>, z.ZodTransform<T, string | undefined>>;

/** The one place that turns a variable's text into its value (see the file comment). */
export function variable<T, S extends Described & { default?: unknown }>(
  spec: S,
  parse: (raw: string) => Parsed<T>,
  options: { trim?: boolean } = {},
): Variable<Out<T, S>> {
  const doc: VariableDoc = { doc: spec.doc };
  if (spec.default !== undefined) doc.default = String(spec.default);
  if (spec.defaultText !== undefined) doc.defaultText = spec.defaultText;
  if (spec.secret) doc.secret = true;
  if (spec.envExample) doc.envExample = true;
  if (spec.internal) doc.internal = true;
  const schema = z
    .string()
    .optional()
    .transform((given, ctx) => {
      // Not trimmed for passwords: one may end in a space.
      const text = options.trim === false ? given : given?.trim();
      const raw = text === undefined || text === '' ? doc.default : text;
      if (raw === undefined) return undefined;
      const result = parse(raw);
      if ('value' in result) return result.value;
      ctx.issues.push({ code: 'custom', message: doc.secret ? withoutSecret(result.problem, raw) : result.problem, input: undefined });
      return z.NEVER;
    });
  return schema.register(variableDocs, doc) as Variable<Out<T, S>>;
}

/**
 * Messages of secret variables are written without the value; this keeps a slip from leaking it.
 * A value shorter than 8 characters is left alone: it could be a piece of the message's own words
 * ("a" in "must be at least 16 characters"), and no secret variable accepts one that short.
 */
function withoutSecret(message: string, raw: string): string {
  return raw.length < 8 ? message : message.split(raw).join('…');
}

export function text<S extends Described & { default?: string }>(spec: S, options: { trim?: boolean } = {}) {
  return variable(spec, (raw) => ({ value: raw }), options);
}

/** Text that must match `pattern`; `problem` says what is expected (the value is appended). */
export function matching<S extends Described & { default?: string; pattern: RegExp; problem: string }>(spec: S): Variable<Out<string, S>> {
  return variable(spec, (raw): Parsed<string> => (spec.pattern.test(raw) ? { value: raw } : { problem: `${spec.problem}, got "${raw}"` }));
}

interface Range {
  min: number;
  max: number;
}

function parseInteger({ min, max }: Range, raw: string): Parsed<number> {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) return { problem: `must be an integer from ${min} to ${max}, got "${raw}"` };
  return { value: Number(raw) };
}

function parseDecimal({ min, max }: Range, raw: string): Parsed<number> {
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) < min || Number(raw) > max) return { problem: `must be a number from ${min} to ${max}, got "${raw}"` };
  return { value: Number(raw) };
}

export function integer<S extends Described & Range & { default?: number }>(spec: S) {
  return variable(spec, (raw) => parseInteger(spec, raw));
}

export function decimal<S extends Described & Range & { default?: number }>(spec: S) {
  return variable(spec, (raw) => parseDecimal(spec, raw));
}

/**
 * A duration given in seconds and read as milliseconds. `fractions: true` allows "0.5" (tests make
 * timeouts short with it); otherwise whole seconds only.
 */
export function seconds<S extends Described & Range & { default?: number; fractions?: boolean }>(spec: S) {
  return variable(spec, (raw) => {
    const parsed = spec.fractions ? parseDecimal(spec, raw) : parseInteger(spec, raw);
    return 'value' in parsed ? { value: Math.round(parsed.value * 1000) } : parsed;
  });
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** 1/true/yes/on or 0/false/no/off, in any case. */
export function flag<S extends Described & { default?: boolean }>(spec: S) {
  return variable(spec, (raw): Parsed<boolean> => {
    const word = raw.toLowerCase();
    if (TRUE.includes(word)) return { value: true };
    if (FALSE.includes(word)) return { value: false };
    return { problem: `must be true or false, got "${word}"` };
  });
}

/** "50%", "50" or "0.5" all mean one half, read as the fraction 0.5; "0" is 0. Below 100 %. */
export function percent<S extends Described & { default?: string }>(spec: S) {
  return variable(spec, (raw): Parsed<number> => {
    const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(raw);
    const value = m ? Number(m[1]) / (m[2] === '%' || Number(m[1]) > 1 ? 100 : 1) : NaN;
    if (!(value >= 0 && value < 1)) return { problem: `must be a percentage from 0 to 99 (e.g. 50%), got "${raw}"` };
    return { value };
  });
}

/** One word of a fixed list. */
export function oneOf<const V extends readonly string[], S extends Described & { default?: V[number] }>(values: V, spec: S) {
  const expected = values.length === 2 ? `${values[0]} or ${values[1]}` : `one of ${values.join(', ')}`;
  return variable(spec, (raw): Parsed<V[number]> => (values.includes(raw) ? { value: raw } : { problem: `must be ${expected}, got "${raw}"` }));
}
