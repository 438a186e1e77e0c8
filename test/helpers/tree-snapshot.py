#!/usr/bin/env python3
"""Prints a byte-exact snapshot of a directory tree as JSON, one independent reader of what a
restore wrote: names and link targets as hex bytes, type, mode & 0o7777, owner, size, mtime in
whole seconds (floor, as GNU format stores it), sha256 of the content, and the bytes the file
occupies on disk (for sparse files). Walks with directory descriptors (os.fwalk), so trees
deeper than PATH_MAX are read too. Hard-linked files share an inode number, reported as the
index of the first path that had it.

Usage: tree-snapshot.py <dir>
"""
import hashlib
import json
import os
import stat
import sys

root = sys.argv[1].encode()
out = []
inodes = {}  # (dev, ino) -> entries of hard-linked files


def entry(rel, st, dir_fd, name):
    t = 'file' if stat.S_ISREG(st.st_mode) else 'dir' if stat.S_ISDIR(st.st_mode) else 'symlink' if stat.S_ISLNK(st.st_mode) else 'other'
    e = {
        'path': rel.hex(), 'type': t, 'mode': st.st_mode & 0o7777, 'uid': st.st_uid, 'gid': st.st_gid,
        'size': st.st_size if t == 'file' else 0, 'mtime': st.st_mtime_ns // 1_000_000_000,
    }
    if t == 'file':
        h = hashlib.sha256()
        fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd) if dir_fd is not None else os.open(root, os.O_RDONLY)
        with os.fdopen(fd, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        e['sha256'] = h.hexdigest()
        e['allocated'] = st.st_blocks * 512
        if st.st_nlink > 1:
            inodes.setdefault((st.st_dev, st.st_ino), []).append(e)
    if t == 'symlink':
        e['target'] = os.readlink(name, dir_fd=dir_fd).hex()
    return e


out.append(entry(b'.', os.lstat(root), None, root))
for dirpath, dirnames, filenames, dirfd in os.fwalk(root, follow_symlinks=False):
    rel_dir = os.path.relpath(dirpath, root)
    for name in sorted(dirnames + filenames):
        rel = name if rel_dir == b'.' else rel_dir + b'/' + name
        out.append(entry(rel, os.lstat(name, dir_fd=dirfd), dirfd, name))
# A hard-linked file's group is named by its smallest path, whatever order the walk met them in.
for group in inodes.values():
    first = min(e['path'] for e in group)
    for e in group:
        e['link_group'] = first
out.sort(key=lambda e: e['path'])
json.dump(out, sys.stdout)
