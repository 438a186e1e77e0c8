"""Archives built with Python's tarfile, and Python's own view of an archive: the independent reader
that test/unit/gnu-tar-list.test.ts holds GNU tar's listing against.

  python3 tarfile-fixtures.py build DIR        write every fixture (see BUILDERS) to DIR/KIND.tar
  python3 tarfile-fixtures.py dump ARCHIVE...  one JSON object per member, names as hex bytes
(one call for many archives: a python3 start can cost a third of a second)

Names are bytes throughout: tarfile runs with encoding utf-8 + surrogateescape, so a non-UTF-8 byte
travels as a surrogate and is written back as the same byte (pax: with hdrcharset=BINARY).
"""
import io
import json
import sys
import tarfile

ENC = dict(encoding='utf-8', errors='surrogateescape')


def b2s(b):
    """Bytes as the str tarfile handles (each non-UTF-8 byte a surrogate)."""
    return b.decode('utf-8', 'surrogateescape')


def s2b(s):
    return s.encode('utf-8', 'surrogateescape')


def member(name, data=b'', **fields):
    ti = tarfile.TarInfo(b2s(name) if isinstance(name, bytes) else name)
    for k, v in fields.items():
        setattr(ti, k, b2s(v) if k == 'linkname' else v)
    if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
        ti.size = len(data)
    return ti, (io.BytesIO(data) if data else None)


def write(out, fmt, members, **kw):
    with tarfile.open(out, 'w', format=fmt, **ENC, **kw) as t:
        for ti, data in members:
            t.addfile(ti, data)


# --- raw blocks, for headers tarfile would not write ---------------------------------------------

def header(ti, fmt=tarfile.USTAR_FORMAT, **fields):
    """ti's header block(s), the last one patched: fields are name=(offset, bytes); checksum redone."""
    b = bytearray(ti.tobuf(fmt, **ENC))
    h = len(b) - 512
    for off, val in fields.values():
        b[h + off:h + off + len(val)] = val
    b[h + 148:h + 156] = b' ' * 8
    b[h + 148:h + 156] = b'%06o\0 ' % sum(b[h:h + 512])
    return bytes(b)


def pad(data):
    return data + b'\0' * (-len(data) % 512)


def pax(records, typeflag=tarfile.XHDTYPE):
    """An extended ('x') or global ('g') header block with these (keyword, value) byte records."""
    body = b''
    for k, v in records:
        rec = b' ' + k + b'=' + v + b'\n'
        n = len(rec) + len(str(len(rec)))
        n += len(str(n)) - len(str(len(rec)))
        body += str(n).encode() + rec
    return header(tarfile.TarInfo('PaxHeader'), size=(124, b'%011o\0' % len(body)),
                  type=(156, typeflag)) + pad(body)


# --- the fixtures ------------------------------------------------------------------------------

# Every byte 0x01..0xff but '/', spread over a few names (a name's component may hold any of them).
ALL_BYTES = [bytes(c for c in range(lo, lo + 64) if 0 < c < 256 and c != 0x2f) for lo in range(0, 256, 64)]
LONG = b'long-' + b'n' * 120 + b'\n-' + b'\xfc' * 20 + b'/end'


def pax_python(out):
    ms = [member(b'dir/', type=tarfile.DIRTYPE, mode=0o2755, uid=3000000000, gid=2097152)]
    ms += [member(b'bytes-' + b, b'x', mode=0o644) for b in ALL_BYTES]
    ms += [
        member(b'Bericht_M\xfcller.txt', b'latin-1 name', mtime=-5.25),
        member(b'a -> b link to c "q" \\', b'x', mtime=-62167219201.5),
        member(LONG, b'long', mtime=253402300800.5, uid=2097152, gid=4294967294),
        member(b'sym -> x', type=tarfile.SYMTYPE, linkname=b'target -> "\n\xff"' + b't' * 120, mtime=2 ** 40 + 0.25),
        member(b'hard', type=tarfile.LNKTYPE, linkname=LONG, mtime=-(2 ** 40) - 0.75),
        member(b'fifo', type=tarfile.FIFOTYPE, mode=0o1640),
        member(b'chr', type=tarfile.CHRTYPE, devmajor=4095, devminor=1048575, mode=0o4000),
        member(b'blk', type=tarfile.BLKTYPE, devmajor=8, devminor=1, mode=0o6644),
    ]
    xattr, _ = member(b'xattr-binary', mtime=1.5)
    xattr.pax_headers = {'SCHILY.xattr.user.bin': b2s(b'\x00\x01\n\xff=\n')}
    ms.append((xattr, None))
    # mtimes beyond a float's precision and beyond what gmtime breaks down: exact pax strings
    for value in ['67768036191676799', '67768036191676800.5', '-67768040609740801.25',
                  '9223372036854775807', '-9223372036854775808', '1.000000001', '-1.5']:
        ti, _ = member(b'mtime ' + value.encode())
        ti.pax_headers = {'mtime': value}
        ms.append((ti, None))
    # The global header (written first by tarfile.open) gives every member without its own a gid.
    write(out, tarfile.PAX_FORMAT, ms, pax_headers={'gid': '4242', 'comment': 'global'})


def gnu_python(out):
    write(out, tarfile.GNU_FORMAT, [
        member(LONG, b'gnu long name'),  # 'L' header
        member(b'sym', type=tarfile.SYMTYPE, linkname=LONG),  # 'K' header
        member(b'neg', b'x', mtime=-(2 ** 40)),  # base-256 negative
        member(b'neg-small', b'x', mtime=-1),
        member(b'huge', b'x', mtime=2 ** 40),  # base-256
        member(b'ids', b'x', uid=3000000000, gid=2097152),  # base-256
        member(b'M\xfcller\n', b'x', mode=0o7777),
    ])


def raw_agree(out):
    """Headers tarfile cannot write but reads as GNU tar does."""
    file = tarfile.TarInfo('x')
    data = header(tarfile.TarInfo('x'), type=(156, tarfile.DIRTYPE), name=(0, b'dir-no-slash\0'))
    data += header(file, prefix=(345, b'pre/fix\0'), name=(0, b'name\0'))
    data += header(file, name=(0, b'n' * 100))  # a name filling its field, no NUL
    data += header(file, type=(156, tarfile.SYMTYPE), name=(0, b'sym100\0'), linkname=(157, b'l' * 100))
    # An old-style hard link with a size (some tars wrote the target's size); no data follows it.
    data += header(file, type=(156, tarfile.LNKTYPE), name=(0, b'old-hard\0'), linkname=(157, b'n' * 100),
                   size=(124, b'00000000010\0'))
    data += header(file, type=(156, tarfile.AREGTYPE), name=(0, b'areg-dir/\0'))
    data += header(file, type=(156, tarfile.CONTTYPE), name=(0, b'contiguous\0'), size=(124, b'00000000003\0'))
    data += pad(b'abc')
    data += pax([(b'hdrcharset', b'BINARY'), (b'path', b'M\xfcller\n19 path=config.txt\n'), (b'linkpath', b'\xff\xfe')])
    data += header(file, type=(156, tarfile.SYMTYPE), name=(0, b'sym\0'))
    data += pax([(b'path', b'global-path'), (b'uid', b'4000000000'), (b'mtime', b'-5.25')], tarfile.XGLTYPE)
    data += header(file, name=(0, b'after-global\0'))
    data += pax([(b'path', b'own-path'), (b'mtime', b'7.5')]) + header(file)
    open(out, 'wb').write(data + b'\0' * 1024)


def raw_disagree(out):
    """Where Python's tarfile (3.11) and GNU tar read the same bytes differently."""
    file = tarfile.TarInfo('x')
    # Two extended headers in a row: GNU tar uses the last one alone, tarfile the first.
    data = pax([(b'path', b'first'), (b'uid', b'7')]) + pax([(b'path', b'second')]) + header(file)
    # A '0' (not '\0') entry whose name ends in "/": a directory to GNU tar, a file to tarfile.
    data += header(file, name=(0, b'reg-slash/\0'))
    # A contiguous entry named so: GNU tar lists it as 'C' but extracts it as a directory.
    data += header(file, type=(156, tarfile.CONTTYPE), name=(0, b'contiguous-dir/\0'))
    data += header(file, name=(0, b'contiguous-dir/inside\0'), size=(124, b'00000000002\0')) + pad(b'in')
    # mtime -0.25: GNU tar prints it exactly like +0.25.
    data += pax([(b'mtime', b'-0.25')]) + header(file, name=(0, b'minus-quarter\0'))
    open(out, 'wb').write(data + b'\0' * 1024)


def names_as_stored(out):
    """Names and hard link targets GNU tar would strip on extraction ("/", "../")."""
    with tarfile.open(out, 'w', format=tarfile.USTAR_FORMAT) as t:
        for name, kind, target in [('/abs/file', tarfile.REGTYPE, ''), ('../up', tarfile.REGTYPE, ''),
                                   ('./dot/./x', tarfile.REGTYPE, ''), ('dir//', tarfile.DIRTYPE, ''),
                                   ('h1', tarfile.LNKTYPE, '/abs/file'), ('h2', tarfile.LNKTYPE, '../up')]:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = kind, target
            t.addfile(ti)


def slash_link(out):
    """A hard link to a name ending in "/": GNU tar lists it, but cannot extract it."""
    file = tarfile.TarInfo('x')
    data = header(file, name=(0, b'target\0'), size=(124, b'00000000001\0')) + pad(b't')
    data += header(file, type=(156, tarfile.LNKTYPE), name=(0, b'link\0'), linkname=(157, b'target/\0'))
    open(out, 'wb').write(data + b'\0' * 1024)


def unknown_type(out):
    file = tarfile.TarInfo('x')
    open(out, 'wb').write(header(file, name=(0, b'before\0')) + header(file, type=(156, b'Z'), name=(0, b'zed\0'))
                          + b'\0' * 1024)


BUILDERS = {'pax-python': pax_python, 'gnu-python': gnu_python, 'raw-agree': raw_agree,
            'raw-disagree': raw_disagree, 'names-as-stored': names_as_stored, 'slash-link': slash_link,
            'unknown-type': unknown_type}


def dump(index, archive):
    with tarfile.open(archive, **ENC) as t:
        for m in t:
            mtime = m.pax_headers.get('mtime', str(m.mtime))
            print(json.dumps({
                'archive': index, 'name': s2b(m.name).hex(), 'link': s2b(m.linkname).hex(), 'type': m.type.decode('latin-1'),
                'size': m.size, 'mode': m.mode & 0o7777, 'uid': m.uid, 'gid': m.gid, 'mtime': mtime,
            }))


if __name__ == '__main__':
    if sys.argv[1] == 'build':
        for kind, build in BUILDERS.items():
            build(f'{sys.argv[2]}/{kind}.tar')
    else:
        for i, archive in enumerate(sys.argv[2:]):
            dump(i, archive)
