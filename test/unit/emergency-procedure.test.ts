/**
 * The README's emergency procedure in its two languages: the same commands, line for line (only
 * the comments and the example path of the rclone config differ). The integration tests run the
 * English lines (test/helpers/emergency-procedure.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { procedureCommands } from '../helpers/emergency-procedure.js';

describe("the README's emergency procedure by hand", () => {
  it('has the same commands in German as in English', () => {
    const en = procedureCommands('en');
    assert.ok(en.some((l) => l.includes('tar -C "$DEST" -xzpf')) && en.some((l) => l.includes('mariadb -u root -p --comments')), en.join('\n'));
    assert.deepEqual(procedureCommands('de'), en);
  });
});
