#!/usr/bin/env python3
"""Builds a volume with the awkward but real contents of a practice server, by bytes.

Usage: awkward-tree.py <dir> [--no-deep] [--no-owners]

Python is used because it makes files by exact name bytes and goes below PATH_MAX with
directory descriptors (os.open(..., dir_fd=...)), as GNU tar does. Everything a user's tree can
hold that GNU tar round-trips exactly: Latin-1, KOI8-R, EUC-JP and CP866 names, names that are
not valid UTF-8 at all (two of them would both decode to U+FFFD), newlines in long names and
link targets, a name that carries a pax record, a file named like the service's staging
directory, mtimes before 1970 and after 2242 with fractions, owners beyond 2097151, hard links,
setuid/setgid/sticky modes, a directory of another owner with its own mode and an old mtime, a
private file, a dangling symlink, a sparse file, a path of ~4040 bytes and one deeper than 4096.
"""
import os
import sys

root = sys.argv[1].encode()
deep = '--no-deep' not in sys.argv
owners = '--no-owners' not in sys.argv and os.geteuid() == 0


def p(*parts):
    return os.path.join(root, *parts)


def write(path, data, mode=0o644):
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)


os.makedirs(root, exist_ok=True)

# Names in the encodings documents arrive with (old Windows or Samba shares, foreign archives).
os.mkdir(p(b'Patienten_M\xfcller'))                                      # Latin-1 directory ...
write(p(b'Patienten_M\xfcller', b'Bericht_M\xfcller.txt'), b'Befund\n')   # ... with a Latin-1 file
write(p(b'Bericht_J\xe4ger.txt'), b'Latin-1 at the top\n')
write(p(b'\xf0\xd2\xc9\xd7\xc5\xd4-koi8r.txt'), b'KOI8-R\n')
write(p(b'\xc6\xfc\xcb\xdc\xb8\xec-eucjp.txt'), b'EUC-JP\n')
write(p(b'\x8f\xe0\xa8\xa2\xa5\xe2-cp866.txt'), b'CP866\n')
write(p(b'bad-\xff.txt'), b'first invalid name\n')     # both of these decode to "bad-\ufffd.txt"
write(p(b'bad-\xfe.txt'), b'second invalid name\n')
write(p('Müller-utf8.txt'.encode()), b'UTF-8\n')
os.symlink(b'Bericht_J\xe4ger.txt', p(b'link-to-latin1'))
os.symlink(b'Patienten_M\xfcller/Bericht_M\xfcller.txt', p(b'Verkn\xfcpfung'))

# Newlines, in a name longer than 100 bytes and in a long link target.
write(p(b'long-name-with\nnewline-' + b'x' * 100), b'newline in a long name\n')
os.symlink(b'target-with\nnewline-' + b'y' * 120, p(b'long-link-with-newline'))
# Exactly 100 bytes as archived ("./" + name, a directory's with its "/"): the field is full, no
# NUL, and GNU tar writes no ././@LongLink entry for it; nor for a 100-byte link target.
write(p(b'n' * 98), b'a name of exactly 100 bytes in the archive\n')
os.mkdir(p(b'D' * 97))
os.symlink(b't' * 100, p(b'link-100'))
# A Webelexis upload whose name carries a pax record of its own.
write(p(b'config.txt'), b'the real configuration\n')
write(p(b'upload\n19 path=config.txt\n' + b'z' * 90), b'ATTACKER CONTENT\n')

# A user's file named like the service's own staging directory.
os.mkdir(p(b'.oob-restore-notes'))
write(p(b'.oob-restore-notes', b'keep.txt'), b'not ours\n')
write(p(b'.oob-restore-1234'), b'a file, not a directory\n')

# Times GNU tar stores: before 1970 and after 2242, both with fractions.
write(p(b'before-1970'), b'old\n')
os.utime(p(b'before-1970'), ns=(0, -5_250_000_000))
write(p(b'after-2242'), b'far future\n')
os.utime(p(b'after-2242'), ns=(0, 10**19 + 500_000_000))
write(p(b'year-1901'), b'\n')
os.utime(p(b'year-1901'), ns=(0, -2_175_984_000 * 10**9 + 123))

# Owners beyond ustar's 2097151, special modes, hard links, an empty directory.
write(p(b'big-owner'), b'uid and gid beyond ustar\n')
if owners:
    os.chown(p(b'big-owner'), 3_000_000, 2_097_152)
os.mkdir(p(b'sticky'))
os.chmod(p(b'sticky'), 0o1777)
os.mkdir(p(b'setgid'))
os.chmod(p(b'setgid'), 0o2750)
write(p(b'setgid', b'setuid-tool'), b'#!/bin/sh\n', 0o4755)
os.link(p(b'Bericht_J\xe4ger.txt'), p(b'setgid', b'hard-link-to-latin1'))
os.mkdir(p(b'empty'))

# A directory of another owner (as MariaDB's), 0750, with an old mtime set after filling it; a
# private file; a symlink to nothing.
os.mkdir(p(b'private'))
write(p(b'private', b'secret.cnf'), b'[client]\npassword=x\n', 0o600)
os.chmod(p(b'private'), 0o750)
if owners:
    os.chown(p(b'private'), 1234, 5678)
os.utime(p(b'private'), (1262401445, 1262401445))  # 2010-01-02T03:04:05Z
os.symlink(b'does/not/exist', p(b'dangling'))

# A sparse file (MariaDB page compression punches holes): 64 MiB, 3 small data runs.
with open(p(b'ibdata-sparse'), 'wb') as f:
    f.write(b'start of tablespace')
    f.seek(20 * 1024 * 1024)
    f.write(b'page in the middle')
    f.seek(64 * 1024 * 1024 - 4)
    f.write(b'end!')

if deep:
    def mkdirs_fd(base_fd, parts):
        fd = os.dup(base_fd)
        for part in parts:
            try:
                os.mkdir(part, dir_fd=fd)
            except FileExistsError:
                pass
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return fd

    rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    # ~4040 bytes below the volume: fits PATH_MAX on its own, not below a staging directory.
    fd = mkdirs_fd(rfd, [b'near-max'] + [b'n' * 200] * 19)
    with os.fdopen(os.open(b'f' * 30, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), 'wb') as f:
        f.write(b'4040 bytes deep\n')
    os.close(fd)
    # Deeper than PATH_MAX: ~6000 bytes.
    fd = mkdirs_fd(rfd, [b'deeper-than-path-max'] + [b'd\xe9' + b'e' * 198] * 30)
    with os.fdopen(os.open(b'deepest.txt', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), 'wb') as f:
        f.write(b'beyond PATH_MAX\n')
    os.symlink(b'deepest.txt', b'link-beside', dir_fd=fd)
    os.close(fd)
    os.close(rfd)
