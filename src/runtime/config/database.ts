/**
 * The Elexis MariaDB, for logical dumps and SQL restores. Every DB_ variable is checked even while
 * DB_HOST is unset, so a typo shows at once and not on the day DB_HOST is added.
 */
import { isValidVolumeName } from '../../core/names.js';
import { flag, integer, matching, text, variable, type Parsed } from './variables.js';

export const database = {
  title: 'Database (MariaDB)',
  variables: {
    DB_HOST: text({ envExample: true, doc: 'the Elexis MariaDB; set → every run also makes a logical dump, SQL restores work' }),
    DB_PORT: integer({ min: 1, max: 65535, default: 3306, envExample: true, doc: 'port of the MariaDB server' }),
    DB_NAME: matching({
      default: 'elexis',
      // It goes into the clients' command lines and SQL (CREATE DATABASE): a plain name only.
      pattern: /^[A-Za-z0-9_]+$/,
      problem: 'may hold letters, digits and "_" only',
      envExample: true,
      doc: 'the Elexis database',
    }),
    DB_USER: text({ default: 'root', envExample: true, doc: 'MariaDB user with rights to dump and load that database' }),
    DB_PASSWORD: text(
      { secret: true, envExample: true, doc: 'password of `DB_USER`; it goes to the clients only through a 0600 option file' },
      // Not trimmed: a password may end in a space.
      { trim: false },
    ),
    DB_DUMP_NAME: variable({ default: 'elexisdb-sql', doc: 'dumps are `<DB_DUMP_NAME>_<stamp>.sql.gz`' }, (raw): Parsed<string> =>
      isValidVolumeName(raw) ? { value: raw } : { problem: `must look like elexisdb-sql ([a-z0-9-]), got "${raw}"` },
    ),
    DB_SSL: flag({ defaultText: 'on when `DB_SSL_CA` or `DB_SSL_CERT` is set', doc: 'TLS to MariaDB' }),
    DB_SSL_CA: text({ doc: 'CA of the MariaDB server\'s certificate (turns TLS and its verification on)' }),
    DB_SSL_CERT: text({ doc: 'client certificate for MariaDB (turns TLS on)' }),
    DB_SSL_KEY: text({ doc: 'private key of the client certificate' }),
    DB_SSL_VERIFY_SERVER_CERT: flag({ defaultText: 'on when `DB_SSL_CA` is set', doc: 'check the MariaDB server\'s certificate and name' }),
  },
};
