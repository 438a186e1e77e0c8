/** The part of a URL that may be shown: scheme, host and port (paths, queries and user:password often hold secrets). */
export function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
