// `npm ci` / `npm install` runs this (package.json "install"): builds the libdeflate binding
// (native/libdeflate) with node-gyp, which npm puts on the PATH of its scripts. A failed build does
// not fail the install: the service then inflates archives with zlib (about half as fast) and its
// worker logs why at start. Set OOB_REQUIRE_LIBDEFLATE=1 to make a failed build fail the install.
// Needs Debian's libdeflate-dev, python3, make and a C compiler (README "Quick start").
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../native/libdeflate', import.meta.url));
const r = spawnSync('node-gyp', ['rebuild', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status === 0) {
  console.log('libdeflate binding built (native/libdeflate/build/Release/oob_libdeflate.node)');
} else {
  const why = r.error ? r.error.message : `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error|not found|No such/i.test(l)).slice(0, 8).join('\n');
  console.warn(`libdeflate binding NOT built; archives will be inflated by zlib (about half as fast).\n${why}`);
  if (process.env.OOB_REQUIRE_LIBDEFLATE === '1') process.exit(1);
}
