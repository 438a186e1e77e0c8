/**
 * engine/ — the archive format and the file work: the byte-name tree walk, GNU tar's format
 * written and read (tar/), parallel gzip (gzip/), a volume into an archive (archive/), a restore
 * into a staging directory (extract/), the swap of a volume by renames and its recovery (swap/),
 * verification by two readers and the manifest (verify/), atomic publication of a finished file.
 * Plain options in, plain results and progress callbacks out; it could be a package of its own,
 * and its tests need only a temp dir.
 *
 * May import: core/ and engine/, Node's standard library, pino's Logger type. May not import:
 * BullMQ, ioredis, Express, the configuration or anything of db/, stores/, runtime/, jobs/, api/
 * (checked by `npm run lint`, .dependency-cruiser.cjs).
 *
 * This file names the folder's main entry points; import from the modules themselves.
 */
export { archiveVolume } from './archive/archive-volume.js';
export { extractArchive, verifyArchive } from './extract/extract-archive.js';
export { verifyVolumeArchive } from './verify/archive-verification.js';
export { commitSwap, finishCommitted, swapIn } from './swap/swap-volume.js';
export { flushFileSystems } from './swap/flush-volumes.js';
export { recoverInterruptedRestores } from './swap/recovery.js';
export { createWorkDir, removeWorkDir } from './swap/work-dir.js';
export { walkTree } from './fs/tree-walk.js';
export { removeTreeAsync, removeTreeAtAsync } from './fs/remove-tree.js';
export { publish } from './fs/publish.js';
export { listWithGnuTar } from './gnu-tar/list-archive.js';
