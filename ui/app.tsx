/**
 * The frame of the backup screens: who is logged in, which screen (from the URL's #fragment, so
 * the browser's back button and bookmarks work without any server route), which language.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, whenUnauthorized } from './api';
import { forgetToken, getToken, setToken } from './auth';
import { chooseLang, currentLang, t, type Lang, type TextKey } from './i18n';
import { Overview } from './overview';
import { ConfigureScreen } from './configure';
import { RestoreScreen } from './restore';
import { DocumentsScreen } from './documents';

const SCREENS: { hash: string; label: TextKey }[] = [
  { hash: '#/', label: 'nav.overview' },
  { hash: '#/konfigurieren', label: 'nav.configure' },
  { hash: '#/wiederherstellen', label: 'nav.restore' },
  { hash: '#/dokument', label: 'nav.documents' },
];

type Access = 'checking' | 'in' | 'login';

export function App() {
  const [lang, setLang] = useState<Lang>(currentLang());
  const [hash, setHash] = useState(location.hash || '#/');
  const [access, setAccess] = useState<Access>('checking');

  useEffect(() => {
    const onHash = () => setHash(location.hash || '#/');
    window.addEventListener('hashchange', onHash);
    whenUnauthorized(() => setAccess('login'));
    // Without a token configured (loopback mode) the API lets us in: no login needed.
    api('GET', '/api/schedule').then(
      () => setAccess('in'),
      (err: unknown) => setAccess(err instanceof ApiError && err.status === 401 ? 'login' : 'in'),
    );
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    document.title = t('app.title');
  }, [lang, hash]);

  const switchLang = (l: Lang) => {
    chooseLang(l);
    setLang(l);
  };
  const screen = SCREENS.find((s) => s.hash === hash) ?? SCREENS[0]!;

  return (
    <div class="app" key={lang}>
      <header class="top">
        <h1>{t('app.title')}</h1>
        <div class="top-tools">
          <div role="group" aria-label={t('lang.label')}>
            {(['de', 'en'] as const).map((l) => (
              <button type="button" class="lang" aria-pressed={lang === l} onClick={() => switchLang(l)} lang={l}>
                {l === 'de' ? 'Deutsch' : 'English'}
              </button>
            ))}
          </div>
          {access === 'in' && getToken() ? (
            <button type="button" onClick={() => (forgetToken(), setAccess('login'))}>
              {t('login.logout')}
            </button>
          ) : null}
        </div>
      </header>
      {access === 'in' ? (
        <>
          <nav aria-label={t('nav.label')}>
            {SCREENS.map((s) => (
              <a href={s.hash} aria-current={s === screen ? 'page' : undefined}>
                {t(s.label)}
              </a>
            ))}
          </nav>
          <main>{screenOf(screen.hash)}</main>
        </>
      ) : access === 'login' ? (
        <Login onIn={() => setAccess('in')} />
      ) : (
        <main aria-busy="true">{t('app.loading')}</main>
      )}
    </div>
  );
}

function screenOf(hash: string) {
  if (hash === '#/konfigurieren') return <ConfigureScreen />;
  if (hash === '#/wiederherstellen') return <RestoreScreen />;
  if (hash === '#/dokument') return <DocumentsScreen />;
  return <Overview />;
}

function Login(props: { onIn: () => void }) {
  const [token, setTokenText] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setToken(token.trim(), remember);
    try {
      await api('GET', '/api/schedule');
      props.onIn();
    } catch (err) {
      forgetToken();
      setError(err instanceof ApiError && err.status === 401 ? t('login.wrong') : (err as Error).message);
    }
  };
  return (
    <main>
      <form class="card login" onSubmit={submit}>
        <h2>{t('login.title')}</h2>
        <p>{t('login.intro')}</p>
        <label for="token">{t('login.token')}</label>
        <input id="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setTokenText((e.currentTarget as HTMLInputElement).value)} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'token-error' : undefined} />
        {error ? <p id="token-error" class="field-error">{error}</p> : null}
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.currentTarget as HTMLInputElement).checked)} /> {t('login.remember')}
        </label>
        <p class="hint">{remember ? t('login.rememberOn') : t('login.rememberOff')}</p>
        <button type="submit" class="primary">{t('login.submit')}</button>
      </form>
    </main>
  );
}
