/** The pino JSON lines a service process wrote. */
export function logLines(out: string, msg?: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{') && (msg === undefined || l.includes(`"msg":"${msg}"`)))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
