/**
 * German first, English switchable: the admin's choice (kept in localStorage), else the browser's
 * preferred languages, else German. Texts are looked up by key; `{name}` placeholders are filled in.
 */
import { DE, type Texts } from './texts-de';
import { EN } from './texts-en';
import { fill } from './fill';

export type Lang = 'de' | 'en';
const KEY = 'oob-backup.lang';
const TEXTS: Record<Lang, Texts> = { de: DE, en: EN };

function initialLang(): Lang {
  const chosen = localStorage.getItem(KEY);
  if (chosen === 'de' || chosen === 'en') return chosen;
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = l.toLowerCase().slice(0, 2);
    if (base === 'de' || base === 'en') return base;
  }
  return 'de';
}

let lang: Lang = initialLang();

export function currentLang(): Lang {
  return lang;
}

export function chooseLang(l: Lang): void {
  lang = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
}

export type TextKey = keyof Texts;

export function t(key: TextKey, vars: Record<string, string | number> = {}): string {
  return fill(TEXTS[lang][key], vars);
}

/** BCP 47 tag for Intl: Swiss German dates and numbers (03:15, 1'234) on the German page. */
export function locale(): string {
  return lang === 'de' ? 'de-CH' : 'en-GB';
}
