/** Entry of the backup screens: renders the app into #app (ui/index.html). */
import { render } from 'preact';
import { App } from './app';
import { currentLang } from './i18n';
import './app.css';

document.documentElement.lang = currentLang();
render(<App />, document.getElementById('app')!);
