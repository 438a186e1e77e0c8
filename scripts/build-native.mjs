// `npm ci` / `npm install` runs this (package.json "install"): builds the native bindings
// (native/libdeflate/binding.gyp) with node-gyp, which npm puts on the PATH of its scripts:
// - oob_libdeflate: without it the service inflates archives with zlib (about half as fast) and its
//   worker logs why at start. Set OOB_REQUIRE_LIBDEFLATE=1 to make a failed build fail the install.
// - oob_file_times: without it restores set file times to the millisecond instead of the
//   nanosecond (src/engine/fs/file-times.ts). Built first, so a missing libdeflate-dev leaves it.
// A failed build does not fail the install otherwise. Needs python3, make and a C compiler, and
// Debian's libdeflate-dev for the first (README "Quick start").
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../native/libdeflate', import.meta.url));
const built = (name) => existsSync(`${dir}/build/Release/${name}.node`);
const r = spawnSync('node-gyp', ['rebuild', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const why = r.error ? r.error.message : `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error|not found|No such/i.test(l)).slice(0, 8).join('\n');
// `rebuild` starts by removing the build directory: after a failed build, what is there was built now.
const times = !r.error && (r.status === 0 || built('oob_file_times'));
const deflate = !r.error && (r.status === 0 || built('oob_libdeflate'));
if (times) console.log('file times binding built (native/libdeflate/build/Release/oob_file_times.node)');
else console.warn(`file times binding NOT built; restores set times to the millisecond, not the nanosecond.\n${why}`);
if (deflate) {
  console.log('libdeflate binding built (native/libdeflate/build/Release/oob_libdeflate.node)');
} else {
  console.warn(`libdeflate binding NOT built; archives will be inflated by zlib (about half as fast).\n${why}`);
  if (process.env.OOB_REQUIRE_LIBDEFLATE === '1') process.exit(1);
}
