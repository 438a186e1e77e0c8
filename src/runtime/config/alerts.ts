/** What the service tells somebody about: webhooks, and the checks that raise alerts (overdue, size drop). */
import { integer, oneOf, percent, seconds, variable, type Parsed } from './variables.js';

export const alerts = {
  title: 'Alerts',
  variables: {
    NOTIFY_WEBHOOK_URL: variable(
      {
        // The path, query or user:password of a webhook URL usually is its secret.
        secret: true,
        envExample: true,
        doc: 'one or more (comma-separated) URLs that get JSON alerts',
      },
      parseWebhookUrls,
    ),
    NOTIFY_ON: oneOf(['failure', 'always'], { default: 'failure', envExample: true, doc: '`failure`, or `always` (also a `run.finished` per volume)' }),
    NOTIFY_ATTEMPTS: integer({ min: 1, max: 100, default: 20, envExample: true, doc: 'delivery attempts per alert and webhook (20 attempts ≈ 3 h)' }),
    NOTIFY_RETRY_DELAY: seconds({
      min: 0.01,
      max: 3600,
      fractions: true,
      default: 5,
      envExample: true,
      doc: 'seconds before the first retry of a delivery, doubling up to 15 min',
    }),
    OVERDUE_CHECK_INTERVAL: seconds({ min: 1, max: 86_400, default: 900, doc: 'seconds between overdue checks' }),
    OVERDUE_GRACE: seconds({ min: 0, max: 7 * 86_400, default: 7200, doc: 'seconds a tick\'s archive may be late before a `backup.overdue` alert' }),
    SIZE_DROP_ALERT: percent({ default: '50%', doc: 'flag an archive that shrank by this much against the previous one; `0` disables' }),
  },
};

/** Comma- or blank-separated http(s) URLs. A bad one is named by its position, never shown. */
function parseWebhookUrls(raw: string): Parsed<string[]> {
  const urls = raw.split(/[\s,]+/).filter(Boolean);
  for (const [i, u] of urls.entries()) {
    let url: URL | undefined;
    try {
      url = new URL(u);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      const what = url ? `uses ${url.protocol}` : 'is not a URL';
      return { problem: `not an http(s) URL: entry ${i + 1} of ${urls.length} ${what} (several are separated by commas)` };
    }
  }
  return { value: urls };
}
