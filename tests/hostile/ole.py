"""A small compound-file (OLE) writer with real stream contents (olefile reads it back).

Every stream is stored in regular 512-byte sectors (padded to at least 4096 bytes, the
mini-stream cutoff), so no mini FAT is needed. Storages nest as (name, [children]).
"""

from __future__ import annotations

import struct

ENDOFCHAIN, FREESECT, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
MINI_CUTOFF = 4096

Tree = list[tuple[str, "Tree | bytes"]]


def compound_file(tree: Tree, root_clsid: str | None = None) -> bytes:
    """The compound file of `tree`; `root_clsid` (e.g. Excel's) goes on the root entry."""
    entries: list[bytearray] = []
    streams: list[tuple[int, bytes]] = []  # (directory id, data)

    def entry(name: str, kind: int) -> int:
        raw = (name + "\x00").encode("utf-16-le")
        e = bytearray(128)
        e[: len(raw)] = raw
        struct.pack_into("<HBB", e, 0x40, len(raw), kind, 1)
        struct.pack_into("<III", e, 0x44, FREESECT, FREESECT, FREESECT)
        struct.pack_into("<I", e, 0x74, ENDOFCHAIN)
        entries.append(e)
        return len(entries) - 1

    def add(parent: int, children: Tree) -> None:
        previous = None
        for name, content in children:
            sid = entry(name, 1 if isinstance(content, list) else 2)
            if previous is None:
                struct.pack_into("<I", entries[parent], 0x4C, sid)
            else:
                struct.pack_into("<I", entries[previous], 0x48, sid)
            previous = sid
            if isinstance(content, list):
                add(sid, content)
            else:
                streams.append((sid, content))

    root = entry("Root Entry", 5)
    if root_clsid:
        import uuid

        entries[root][0x50:0x60] = uuid.UUID(root_clsid).bytes_le
    add(root, tree)
    while len(entries) % 4:
        entries.append(bytearray(128))
    dir_sectors = len(entries) // 4
    next_sector = 1 + dir_sectors
    body = bytearray()
    fat: list[int] = [FATSECT] + [i + 1 if i < dir_sectors else ENDOFCHAIN
                                  for i in range(1, dir_sectors + 1)]
    for sid, data in streams:
        size = max(len(data), MINI_CUTOFF)
        padded = data + b"\x00" * (-(-size // 512) * 512 - len(data))
        count = len(padded) // 512
        struct.pack_into("<I", entries[sid], 0x74, next_sector)
        struct.pack_into("<I", entries[sid], 0x78, size)
        fat += [next_sector + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
        next_sector += count
        body += padded
    if len(fat) > 128:
        raise ValueError("too large for one FAT sector")
    fat_sector = b"".join(struct.pack("<I", v) for v in fat) + b"\xff" * (512 - 4 * len(fat))
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIII", header, 0x2C, 1, 1, 0, MINI_CUTOFF)
    struct.pack_into("<IIII", header, 0x3C, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
    for i in range(109):
        struct.pack_into("<I", header, 0x4C + 4 * i, 0 if i == 0 else FREESECT)
    return bytes(header) + fat_sector + b"".join(entries) + bytes(body)
