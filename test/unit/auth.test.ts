import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialFrom } from '../../src/api/auth.js';
import { tokenMatches } from '../../src/core/tokens.js';

describe('auth', () => {
  it('compares tokens exactly', () => {
    assert.ok(tokenMatches('s3cret-token-0123456789', 's3cret-token-0123456789'));
    assert.ok(!tokenMatches('s3cret-token-012345678', 's3cret-token-0123456789'));
    assert.ok(!tokenMatches('', 's3cret-token-0123456789'));
  });

  it('reads Bearer and Basic (token as password) credentials', () => {
    assert.deepEqual(credentialFrom('Bearer abc'), { scheme: 'bearer', secret: 'abc' });
    assert.deepEqual(credentialFrom('bearer  abc'), { scheme: 'bearer', secret: 'abc' });
    assert.deepEqual(credentialFrom(`Basic ${Buffer.from('admin:tok:en').toString('base64')}`), { scheme: 'basic', secret: 'tok:en' });
    assert.equal(credentialFrom('Basic !!!'), undefined);
    assert.equal(credentialFrom('Token abc'), undefined);
    assert.equal(credentialFrom(undefined), undefined);
    assert.equal(credentialFrom('Bearer'), undefined);
    assert.equal(credentialFrom('Bearer '), undefined);
  });

  it('refuses anything after the credentials', () => {
    assert.equal(credentialFrom('Bearer abc extra'), undefined);
    assert.equal(credentialFrom('Bearer abc, Basic xyz'), undefined);
    assert.equal(credentialFrom(`Basic ${Buffer.from('a:b').toString('base64')} more`), undefined);
    assert.equal(credentialFrom('Bearer\tabc'), undefined);
  });
});
