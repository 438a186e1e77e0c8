/**
 * A text's placeholders filled in: `{name}` is the value; `{name|one|other}` is the word for that
 * count (`{n} {n|Warnung|Warnungen}` → "1 Warnung", "2 Warnungen"), so no screen says "1 Dateien".
 */
export function fill(text: string, vars: Record<string, string | number>): string {
  return text.replace(/\{(\w+)(?:\|([^|}]*)\|([^}]*))?\}/g, (m, name: string, one?: string, other?: string) => {
    if (!(name in vars)) return m;
    if (one === undefined) return String(vars[name]);
    return Number(vars[name]) === 1 ? one : other!;
  });
}
