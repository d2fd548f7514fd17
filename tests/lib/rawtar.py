# SPDX-License-Identifier: Apache-2.0
"""rawtar: hand-built tar, gzip and zstd bytes for hostile-layer fixtures (mkmodel.py).

Python's tarfile cannot write most of what an attacker can: mode bits above 07777, base-256
sizes of 8 EiB or below zero, GNU sparse headers, extended headers of any size, streams with
data after the end blocks. This module writes the headers field by field (POSIX ustar, the
PAX and GNU extensions), and the compressed containers by hand where the fault lives in the
container itself (a zstd frame header asking for a 2 GiB window, RLE blocks that inflate to
100 GiB, a gzip trailer with a wrong CRC).

Every generator yields bytes in pieces, so a 100 GiB bomb never exists in memory. mkmodel
layer specs name one with {"gen": NAME, ...keyword arguments}:
  "tar": GEN    the layer's uncompressed tar stream (compressed as the format says)
  "blob": GEN   the layer's blob, byte for byte (the format only picks the media type)
"""

import gzip
import io
import struct
import subprocess
import zlib

BLOCK = 512
MTIME = 1700000000


# --------------------------------------------------------------------------- numbers

def octal(n, width):
    """An octal field: width-1 digits and a NUL (the POSIX form)."""
    s = b"%0*o" % (width - 1, n)
    if len(s) > width - 1:
        raise ValueError(f"{n} does not fit {width} bytes in octal")
    return s + b"\0"


def base256(n, width):
    """The GNU base-256 form: the top bit of the first byte set, big-endian two's complement."""
    if n < 0:
        n += 1 << (8 * width)
        b = n.to_bytes(width, "big")
        return bytes([b[0] | 0x80]) + b[1:]
    b = n.to_bytes(width, "big")
    if b[0] & 0x80:
        raise ValueError(f"{n} does not fit {width} bytes in base-256")
    return bytes([b[0] | 0x80]) + b[1:]


def number(n, width):
    """Octal when it fits, else base-256 (as GNU tar writes)."""
    if isinstance(n, bytes):
        return n.ljust(width, b"\0")[:width]
    if 0 <= n < 8 ** (width - 1):
        return octal(n, width)
    return base256(n, width)


def _b(s):
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- headers

def header(name, size=0, typeflag=b"0", mode=0o644, uid=0, gid=0, mtime=MTIME, linkname="",
           uname="", gname="", prefix="", devmajor=0, devminor=0, gnu=False, raw=None):
    """One 512-byte header. Numbers may be ints (octal, else base-256) or the raw field bytes.
    @raw: {offset: bytes} patched in before the checksum (GNU sparse maps, odd fields)."""
    h = bytearray(BLOCK)

    def put(off, width, val):
        v = _b(val) if not isinstance(val, int) else number(val, width)
        if len(v) > width:
            raise ValueError(f"field at {off} is {len(v)} bytes, max {width}")
        h[off:off + len(v)] = v

    put(0, 100, name)
    put(100, 8, mode)
    put(108, 8, uid)
    put(116, 8, gid)
    put(124, 12, size)
    put(136, 12, mtime)
    h[156:157] = _b(typeflag)
    put(157, 100, linkname)
    h[257:265] = b"ustar  \0" if gnu else b"ustar\x0000"
    put(265, 32, uname)
    put(297, 32, gname)
    put(329, 8, devmajor)
    put(337, 8, devminor)
    if not gnu:
        put(345, 155, prefix)
    for off, val in (raw or {}).items():
        h[off:off + len(val)] = val
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pad(n):
    return b"\0" * (-n % BLOCK)


def member(name, data=b"", **kw):
    """A regular file: header, data, padding."""
    data = _b(data)
    return header(name, size=len(data), **kw) + data + pad(len(data))


def pax_record(key, value):
    key, value = _b(key), _b(value)
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n = len(str(n).encode()) + len(body)
    return str(n).encode() + body


def pax(records, typeflag=b"x", name="PaxHeader"):
    """An extended header: @records is a list of (key, value) pairs."""
    data = b"".join(pax_record(k, v) for k, v in records)
    return header(name, size=len(data), typeflag=typeflag) + data + pad(len(data))


def gnu_long(value, typeflag=b"L"):
    """A GNU long name (L) or long link name (K) header, NUL-terminated as GNU tar writes."""
    data = _b(value) + b"\0"
    return (header("././@LongLink", size=len(data), typeflag=typeflag, gnu=True) + data
            + pad(len(data)))


def end():
    return b"\0" * (2 * BLOCK)


def readme():
    return member("good/first.txt", "written before the bad entry\n")


# --------------------------------------------------------------------------- containers

def gzip_bytes(data, level=6):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=level, mtime=0) as g:
        g.write(data)
    return out.getvalue()


def zstd_bytes(data):
    return subprocess.run(["zstd", "-q", "-c", "-3", "-T1", "--no-progress"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)


def zstd_frame_header(window_log=17, content_size=None, checksum=False):
    """A frame header with no dictionary. Without @content_size: a window descriptor for
    2**window_log bytes; with it: a single-segment frame, whose window is the content size."""
    if content_size is None:
        fhd = (0x04 if checksum else 0)
        return ZSTD_MAGIC + bytes([fhd, (window_log - 10) << 3])
    fhd = (3 << 6) | 0x20 | (0x04 if checksum else 0)  # 8-byte content size, single segment
    return ZSTD_MAGIC + bytes([fhd]) + struct.pack("<Q", content_size)


def zstd_block(btype, size, payload, last=False):
    h = (size << 3) | (btype << 1) | (1 if last else 0)
    return struct.pack("<I", h)[:3] + payload


def zstd_raw_blocks(data, last=False, max_block=128 * 1024):
    out = []
    for off in range(0, len(data), max_block):
        piece = data[off:off + max_block]
        out.append(zstd_block(0, len(piece), piece,
                              last=last and off + max_block >= len(data)))
    return b"".join(out)


def zstd_rle_blocks(n_bytes, byte=0, last=False):
    """Yields RLE blocks regenerating @n_bytes copies of @byte: 4 bytes per 128 KiB."""
    step = 128 * 1024
    full = zstd_block(1, step, bytes([byte]))
    left = n_bytes
    chunk = []
    while left > 0:
        n = min(step, left)
        left -= n
        chunk.append(full if n == step and not (last and left == 0)
                     else zstd_block(1, n, bytes([byte]), last=last and left == 0))
        if len(chunk) >= 65536:
            yield b"".join(chunk)
            chunk = []
    yield b"".join(chunk)


# --------------------------------------------------------------------------- generators

def gen_modes(**_):
    """Mode fields with setuid/setgid/sticky, file type bits and bits above 07777, owners as
    base-256 and PAX numbers, user and group names: all to be canonicalized."""
    out = [readme()]
    out.append(header("modes", typeflag=b"5", mode=0o41777))
    out.append(member("modes/above-07777-exec", "a\n", mode=0o177777))
    out.append(member("modes/above-07777-noexec", "b\n", mode=0o1170644))
    out.append(member("modes/setuid-noexec", "c\n", mode=0o104644))
    out.append(member("modes/sticky-other-exec", "d\n", mode=0o1001))
    out.append(member("modes/no-perms", "e\n", mode=0))
    out.append(member("modes/all-bits", "f\n", mode=b"7777777\0"))
    out.append(header("modes/dir-0000", typeflag=b"5", mode=0))
    out.append(member("modes/dir-0000/inside", "g\n", mode=0o400))
    # owners: 2^31 and 2^63-1 as base-256, names that do and do not exist on the host
    out.append(member("owners/uid-2-31", "h\n", uid=2 ** 31, gid=2 ** 31))
    out.append(member("owners/uid-max", "i\n", uid=2 ** 63 - 1, gid=2 ** 63 - 1))
    out.append(member("owners/root-named", "j\n", uid=1000, gid=1000, uname="root",
                      gname="root"))
    out.append(member("owners/unknown-named", "k\n", uid=4242, gid=4242,
                      uname="modelvol-no-such-user", gname="modelvol-no-such-group"))
    out.append(member("owners/nobody-named", "l\n", uname="nobody", gname="nogroup"))
    out.append(pax([("uid", "4294967296"), ("gid", "4294967296"), ("uname", "daemon"),
                    ("gname", "shadow")]))
    out.append(member("owners/pax-uid-2-32", "m\n", mode=0o6755))
    out.append(end())
    yield b"".join(out)


MODES_EXPECT = [
    {"name": "good/first.txt", "content": "written before the bad entry\n"},
    {"name": "modes", "type": "dir"},
    {"name": "modes/above-07777-exec", "content": "a\n", "mode": "0755"},
    {"name": "modes/above-07777-noexec", "content": "b\n", "mode": "0644"},
    {"name": "modes/setuid-noexec", "content": "c\n", "mode": "0644"},
    {"name": "modes/sticky-other-exec", "content": "d\n", "mode": "0755"},
    {"name": "modes/no-perms", "content": "e\n", "mode": "0644"},
    {"name": "modes/all-bits", "content": "f\n", "mode": "0755"},
    {"name": "modes/dir-0000", "type": "dir"},
    {"name": "modes/dir-0000/inside", "content": "g\n", "mode": "0644"},
    {"name": "owners/uid-2-31", "content": "h\n"},
    {"name": "owners/uid-max", "content": "i\n"},
    {"name": "owners/root-named", "content": "j\n"},
    {"name": "owners/unknown-named", "content": "k\n"},
    {"name": "owners/nobody-named", "content": "l\n"},
    {"name": "owners/pax-uid-2-32", "content": "m\n", "mode": "0755"},
]

# A version 3 file capability granting everything (cap_setuid and friends) to a file.
VFS_CAP_ALL = struct.pack("<IIIIII", 0x03000000, 0xFFFFFFFF, 0xFFFFFFFF, 0xFF, 0xFF, 0)
XATTRS = [
    ("SCHILY.xattr.security.capability", VFS_CAP_ALL),
    ("SCHILY.xattr.security.selinux", "system_u:object_r:shadow_t:s0\0"),
    ("SCHILY.xattr.trusted.overlay.opaque", "y"),
    ("SCHILY.xattr.trusted.overlay.redirect", "/etc"),
    ("SCHILY.xattr.user.modelvol-evil", "1"),
    ("SCHILY.xattr.system.posix_acl_access", b"\x02\0\0\0\x01\0\x07\0\xff\xff\xff\xff"),
    ("LIBARCHIVE.xattr.security.capability", "AQAAAv////8AAAAA/////wAAAAA="),
    ("LIBARCHIVE.xattr.user.modelvol-b64", "ZXZpbA=="),
    ("SCHILY.acl.access", "user::rwx,user:nobody:rwx,group::rwx,mask::rwx,other::rwx"),
    ("SCHILY.fflags", "schg,uappnd"),
    ("SCHILY.dev", "1"), ("SCHILY.ino", "2"), ("SCHILY.nlink", "3"),
]


def gen_xattrs(**_):
    """PAX xattrs (SCHILY and LIBARCHIVE forms), ACLs and file flags on a file, a directory
    and a symlink: none may reach the store or a checkout."""
    out = [readme()]
    out.append(pax(XATTRS))
    out.append(header("xattrs", typeflag=b"5", mode=0o755))
    out.append(pax(XATTRS))
    out.append(member("xattrs/file", "x\n", mode=0o755))
    out.append(pax(XATTRS))
    out.append(header("xattrs/link", typeflag=b"2", linkname="file", mode=0o777))
    out.append(end())
    yield b"".join(out)


XATTRS_EXPECT = [
    {"name": "good/first.txt", "content": "written before the bad entry\n"},
    {"name": "xattrs", "type": "dir"},
    {"name": "xattrs/file", "content": "x\n", "mode": "0755"},
    {"name": "xattrs/link", "type": "symlink", "target": "file"},
]


def gen_tar(kind, **kw):
    """Small hostile tar streams, by name."""
    f = TARS[kind]
    yield f(**kw)


def _dup_pax_rename():
    # The second header is named "other" in ustar, but its PAX path says "dup".
    return (readme() + member("dup", "one\n") + pax([("path", "dup")]) + member("other", "two\n")
            + end())


def _pax_size_lie(size):
    # A PAX size that disagrees with the ustar size: a second archive hides in the data.
    hidden = member("hidden.txt", "from inside another member's data\n")
    return (readme() + pax([("size", str(size))]) + member("cover.bin", hidden) + end())


TARS = {
    "dup-dotslash": lambda: readme() + member("a.txt", "one\n") + member("./a.txt", "two\n")
    + end(),
    "dup-same-bytes-other-mode": lambda: readme() + member("m.sh", "x\n", mode=0o755)
    + member("m.sh", "x\n", mode=0o644) + end(),
    "dup-pax-rename": _dup_pax_rename,
    "dup-dir-slash-then-file": lambda: readme() + header("d/", typeflag=b"5")
    + member("d", "now a file\n") + end(),
    "symlink-then-dir": lambda: readme() + header("s", typeflag=b"2", linkname="good")
    + header("s", typeflag=b"5") + member("s/through", "x\n") + end(),
    "dir-then-file": lambda: readme() + header("d", typeflag=b"5") + member("d/f", "f\n")
    + member("d", "now a file\n") + end(),
    "file-then-symlink": lambda: readme() + member("f", "f\n")
    + header("f", typeflag=b"2", linkname="good/first.txt") + end(),
    "symlink-then-file": lambda: readme() + header("l", typeflag=b"2", linkname="good")
    + member("l", "replaces the link\n") + end(),
    "size-8eib": lambda: readme() + header("huge.bin", size=base256(2 ** 63, 12)) + end(),
    "size-negative": lambda: readme() + header("neg.bin", size=base256(-1, 12)) + end(),
    "size-int64-max": lambda: readme() + header("max.bin", size=base256(2 ** 63 - 1, 12))
    + b"\0" * 4096,
    "pax-size-negative": lambda: readme() + pax([("size", "-1")]) + member("n.bin", "n\n")
    + end(),
    "pax-size-8eib": lambda: readme() + pax([("size", str(2 ** 63))]) + member("h.bin", "h\n")
    + end(),
    "pax-size-smaller": lambda: _pax_size_lie(0),
    "sparse-gnu-1tb": lambda: readme() + _gnu_sparse(1 << 40) + end(),
    "sparse-pax-1tb": lambda: readme() + _pax_sparse(1 << 40) + end(),
    "pax-huge": lambda: readme() + pax([("comment", "c" * (1024 * 1024))])
    + member("after-pax", "a\n") + end(),
    "pax-global-huge": lambda: readme() + pax([("comment", "g" * (1024 * 1024))], typeflag=b"g")
    + member("after-pax", "a\n") + end(),
    "gnu-longname-huge": lambda: readme() + gnu_long("n" * (1024 * 1024 + 1))
    + member("short", "s\n", gnu=True) + end(),
    "gnu-longname-pathmax": lambda: readme() + gnu_long(("d" * 200 + "/") * 25 + "f")
    + member("short", "s\n", gnu=True) + end(),
    "gnu-longlink-pathmax": lambda: readme() + gnu_long(("d" * 200 + "/") * 25 + "t", b"K")
    + header("link", typeflag=b"2", linkname="x", gnu=True) + end(),
    "component-256": lambda: readme() + pax([("path", "long/" + "c" * 256)])
    + member("x", "x\n") + end(),
    "depth-257": lambda: readme() + pax([("path", "d/" * 256 + "f")]) + member("x", "x\n")
    + end(),
    "depth-256": lambda: readme() + pax([("path", "d/" * 255 + "f")]) + member("x", "deep\n")
    + end(),
    "pax-chain": lambda: readme() + pax([("comment", "c")]) * 10000 + member("chained", "c\n")
    + end(),
    "truncated-header": lambda: (readme() + member("second", "2\n"))[:2 * BLOCK + 300],
    "truncated-data": lambda: readme() + header("cut.bin", size=4096) + b"d" * 1000,
    "truncated-pax": lambda: readme() + header("PaxHeader", size=4096, typeflag=b"x")
    + b"30 comment=xxxxxxxxxxxxxxxxxx\n",
    "no-end-blocks": lambda: readme() + member("last.txt", "no end blocks follow\n"),
    "one-end-block": lambda: readme() + member("last.txt", "one end block\n") + b"\0" * BLOCK,
    "zero-padding": lambda: readme() + member("last.txt", "padded\n") + end()
    + b"\0" * (64 * 1024),
    "zero-padding-too-long": lambda: readme() + member("last.txt", "padded\n") + end()
    + b"\0" * (2 * 1024 * 1024),
    "after-end-member": lambda: readme() + end() + member("hidden.txt", "after the end\n")
    + end(),
    "after-end-garbage": lambda: readme() + end() + b"garbage after the end blocks\n",
    "after-one-zero-block": lambda: readme() + b"\0" * BLOCK
    + member("hidden.txt", "after one zero block\n") + end(),
}


def _gnu_sparse(realsize):
    # Old GNU sparse ('S'): one 512-byte chunk at the very end of a @realsize file.
    raw = {386: octal(realsize - 512, 12) if realsize < 8 ** 11 else base256(realsize - 512, 12),
           398: octal(512, 12), 482: b"\0", 483: base256(realsize, 12)}
    return header("sparse.bin", size=512, typeflag=b"S", gnu=True, raw=raw) + b"s" * 512


def _pax_sparse(realsize):
    # PAX sparse 1.0: the map leads the data.
    m = b"1\n%d\n512\n" % (realsize - 512)
    data = m + pad(len(m)) + b"s" * 512
    return (pax([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                 ("GNU.sparse.name", "sparse.bin"), ("GNU.sparse.realsize", str(realsize))])
            + header("GNUSparseFile.0/sparse.bin", size=len(data)) + data)


def gen_many(n, **_):
    """@n empty files, d/000000 ..., and the end blocks."""
    buf = [readme(), header("d", typeflag=b"5")]
    for i in range(n):
        buf.append(header(f"d/{i:06d}"))
        if len(buf) >= 4096:
            yield b"".join(buf)
            buf = []
    buf.append(end())
    yield b"".join(buf)


def gen_zeros_member(size, **_):
    """One file of @size zero bytes: a plain tar stream (compressed by mkmodel)."""
    yield readme() + header("bomb.bin", size=size)
    z = b"\0" * (1 << 20)
    left = size
    while left > 0:
        n = min(left, len(z))
        yield z[:n]
        left -= n
    yield pad(size) + end()


def gen_gzip_bomb(size_mib, **_):
    """A gzip blob of a tar with one file of @size_mib MiB of zeros, as 16 MiB members
    (deflate tops out near 1:1030; concatenated members are valid gzip)."""
    assert size_mib % 16 == 0
    step = 16 * 1024 * 1024
    head = readme() + header("bomb.bin", size=size_mib * 1024 * 1024)
    yield gzip_bytes(head + b"\0" * step, 9)
    z = gzip_bytes(b"\0" * step, 9)
    for _ in range(size_mib // 16 - 1):
        yield z
    yield gzip_bytes(end(), 9)


def gen_zstd_bomb(size, window_log=17, content_size=False, **_):
    """A zstd frame: a tar header for one @size-byte file, then RLE blocks of zeros (4 bytes
    per 128 KiB: 100 GiB in 3.2 MB). @window_log: what the frame header asks for."""
    head = readme() + header("bomb.bin", size=size)
    total = len(head) + size + len(end())
    yield zstd_frame_header(window_log, content_size=total if content_size else None)
    yield zstd_raw_blocks(head)
    yield from zstd_rle_blocks(size + len(end()), last=True)


def _tar_of(entries):
    return b"".join(member(n, c) for n, c in entries) + end()


GOOD_ENTRIES = [("good/first.txt", "written before the bad entry\n"),
                ("good/second.txt", "second\n" * 100), ("good/third.bin", "3" * 3000)]
GOOD_EXPECT = [{"name": n, "content": c} for n, c in GOOD_ENTRIES]


def gen_gzip(kind, **_):
    """gzip containers around a small good tar: faults in the container only."""
    tar = _tar_of(GOOD_ENTRIES)
    g = gzip_bytes(tar)
    if kind == "bad-crc":
        g = g[:-8] + bytes([g[-8] ^ 0xFF]) + g[-7:]
    elif kind == "bad-isize":
        g = g[:-4] + struct.pack("<I", (len(tar) + 1) & 0xFFFFFFFF)
    elif kind == "trailing-garbage":
        g = g + b"garbage after the gzip member\n"
    elif kind == "trailing-zeros":
        g = g + b"\0" * 1024
    elif kind == "multi-member":
        # three members, cut inside a header and inside file data
        cuts = [0, 700, 1300, len(tar)]
        g = b"".join(gzip_bytes(tar[a:b]) for a, b in zip(cuts, cuts[1:]))
    elif kind == "empty-members":
        g = gzip_bytes(b"") + g + gzip_bytes(b"")
    elif kind == "second-member-bad":
        g = g + gzip_bytes(b"")[:-8] + b"\xde\xad\xbe\xef\x00\x00\x00\x00"
    elif kind == "truncated-trailer":
        g = g[:-3]
    elif kind == "not-gzip":
        g = zstd_bytes(tar)
    else:
        raise ValueError(kind)
    yield g


def gen_zstd(kind, **_):
    """zstd containers around a small good tar."""
    tar = _tar_of(GOOD_ENTRIES)
    if kind == "trailing-garbage":
        z = zstd_bytes(tar) + b"garbage after the zstd frame\n"
    elif kind == "multi-frame":
        z = zstd_bytes(tar[:1300]) + zstd_bytes(tar[1300:])
    elif kind == "skippable-frame":
        z = (struct.pack("<II", 0x184D2A50, 8) + b"skipped!" + zstd_bytes(tar)
             + struct.pack("<II", 0x184D2A5F, 4) + b"tail")
    elif kind == "bad-checksum":
        z = zstd_frame_header(17, checksum=True) + zstd_raw_blocks(tar, last=True) + b"\0\0\0\0"
    elif kind == "window-2g":
        z = zstd_frame_header(31) + zstd_raw_blocks(tar, last=True)
    elif kind == "content-size-1t":
        z = zstd_frame_header(content_size=1 << 40) + zstd_raw_blocks(tar, last=True)
    elif kind == "truncated-frame":
        z = zstd_frame_header(17) + zstd_raw_blocks(tar, last=False)
    else:
        raise ValueError(kind)
    yield z


GENERATORS = {
    "modes": gen_modes,
    "xattrs": gen_xattrs,
    "tar": gen_tar,
    "many": gen_many,
    "zeros-member": gen_zeros_member,
    "gzip-bomb": gen_gzip_bomb,
    "zstd-bomb": gen_zstd_bomb,
    "gzip": gen_gzip,
    "zstd": gen_zstd,
}


def generate(spec):
    """Yields the bytes of a {"gen": NAME, ...} spec."""
    args = dict(spec)
    name = args.pop("gen")
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}")
    yield from GENERATORS[name](**args)
