#!/usr/bin/python3
"""Writes an uncompressed newc ("070701") cpio archive from a spec list.

The spec takes the lines usr/gen_init_cpio takes (blank lines and # comments
are skipped):
    dir   <name> <mode> <uid> <gid>
    file  <name> <source> <mode> <uid> <gid>
    nod   <name> <mode> <uid> <gid> <c|b> <major> <minor>
    slink <name> <target> <mode> <uid> <gid>
Modes are octal permission bits.  Device nodes are written into the archive,
so no mknod (and no root) is needed.  Every mtime is 0 (or $SOURCE_DATE_EPOCH)
and inode numbers count up from 1, so equal inputs give equal archives.

usage: mkcpio.py SPEC OUTPUT
"""
import os
import stat
import sys

MAGIC = b"070701"


class SpecError(Exception):
    pass


def header(ino, mode, uid, gid, nlink, mtime, size, rmaj, rmin, namesize):
    fields = (ino, mode, uid, gid, nlink, mtime, size, 0, 0, rmaj, rmin, namesize, 0)
    return MAGIC + b"".join(b"%08x" % f for f in fields)


def pad4(n):
    return (4 - n % 4) % 4


class Writer:
    def __init__(self, out, mtime):
        self.out = out
        self.mtime = mtime
        self.ino = 0

    def entry(self, name, mode, uid=0, gid=0, data=b"", nlink=1, rmaj=0, rmin=0, ino=None):
        name = name.lstrip("/") or "."
        raw = name.encode() + b"\0"
        if ino is None:
            self.ino += 1
            ino = self.ino
        hdr = header(ino, mode, uid, gid, nlink, self.mtime, len(data), rmaj, rmin, len(raw))
        self.out.write(hdr + raw + b"\0" * pad4(len(hdr) + len(raw)))
        self.out.write(data + b"\0" * pad4(len(data)))

    def trailer(self):
        self.entry("TRAILER!!!", 0, nlink=1, ino=0)


def octal(s, what):
    try:
        v = int(s, 8)
    except ValueError:
        raise SpecError("%s: not an octal mode: %r" % (what, s))
    if v & ~0o7777:
        raise SpecError("%s: mode %s has file-type bits" % (what, s))
    return v


def number(s, what):
    try:
        return int(s, 10)
    except ValueError:
        raise SpecError("%s: not a number: %r" % (what, s))


def build(spec_path, out):
    w = Writer(out, int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    with open(spec_path) as spec:
        for lineno, line in enumerate(spec, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            where = "%s:%d" % (spec_path, lineno)
            kind, args = words[0], words[1:]
            want = {"dir": 4, "file": 5, "nod": 7, "slink": 5}.get(kind)
            if want is None:
                raise SpecError("%s: unknown entry type %r" % (where, kind))
            if len(args) != want:
                raise SpecError("%s: %s takes %d fields, got %d" % (where, kind, want, len(args)))
            name = args[0]
            if kind == "dir":
                w.entry(name, stat.S_IFDIR | octal(args[1], where),
                        number(args[2], where), number(args[3], where), nlink=2)
            elif kind == "file":
                with open(args[1], "rb") as f:
                    data = f.read()
                w.entry(name, stat.S_IFREG | octal(args[2], where),
                        number(args[3], where), number(args[4], where), data)
            elif kind == "nod":
                if args[4] not in ("c", "b"):
                    raise SpecError("%s: device type must be c or b, got %r" % (where, args[4]))
                ftype = stat.S_IFCHR if args[4] == "c" else stat.S_IFBLK
                w.entry(name, ftype | octal(args[1], where),
                        number(args[2], where), number(args[3], where),
                        rmaj=number(args[5], where), rmin=number(args[6], where))
            else:
                w.entry(name, stat.S_IFLNK | octal(args[2], where),
                        number(args[3], where), number(args[4], where), args[1].encode())
    w.trailer()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__.split("\n\n")[-1].strip() + "\n")
        return 2
    tmp = argv[2] + ".tmp"
    try:
        with open(tmp, "wb") as out:
            build(argv[1], out)
    except (SpecError, OSError) as e:
        sys.stderr.write("mkcpio: %s\n" % e)
        if os.path.exists(tmp):
            os.unlink(tmp)
        return 1
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
