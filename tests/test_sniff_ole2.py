"""Unit tests of the compound-file (OLE2) reader's steps in bifoga/media/containers.py, one per
structure: header, DIFAT, FAT chain, directory, names, macro storages, root streams. The files
are built here (tests/hostile/ole.py); tests/test_sniff.py tests inspect_ole2 as a whole."""

from __future__ import annotations

import struct

import pytest

from bifoga.media import containers
from bifoga.media.containers import (
    OLE_EXCEL,
    OLE_MACROS,
    OLE_OTHER,
    OLE_WORD,
    _Budget,
    _Exhausted,
    _ole2_difat,
    _ole2_directory,
    _ole2_has_macros,
    _ole2_name,
    _ole2_next_sector,
    _ole2_root_streams,
    _ole2_sector_size,
    inspect_ole2,
)
from tests.hostile.ole import ENDOFCHAIN, FREESECT, compound_file


def header(shift: int = 9, difat_start: int = ENDOFCHAIN, difat_count: int = 0) -> bytearray:
    h = bytearray(512)
    h[0:8] = containers.OLE2_MAGIC
    struct.pack_into("<H", h, 0x1E, shift)
    struct.pack_into("<II", h, 0x44, difat_start, difat_count)
    for i in range(109):
        struct.pack_into("<I", h, 0x4C + 4 * i, FREESECT)
    return h


def u32s(*values: int) -> bytes:
    return b"".join(struct.pack("<I", v) for v in values)


@pytest.mark.parametrize("buf, size", [
    (bytes(header(9)), 512),
    (bytes(header(12)), 4096),
    (bytes(header(10)), None),
    (bytes(header(9))[:511], None),
    (b"PK" + bytes(header(9))[2:], None),
])  # fmt: skip
def test_sector_size(buf: bytes, size: int | None) -> None:
    assert _ole2_sector_size(buf) == size


def test_difat_continues_past_the_header_through_its_chain() -> None:
    h = header(difat_start=0, difat_count=2)
    struct.pack_into("<I", h, 0x4C, 7)
    first = u32s(*range(200, 327)) + u32s(1)  # 127 FAT sector numbers, then the next one
    second = u32s(*range(400, 527)) + u32s(ENDOFCHAIN)
    difat = _ole2_difat(bytes(h) + first + second, 512, _Budget())
    assert difat[0] == 7 and difat[1:109] == [FREESECT] * 108
    assert difat[109:] == list(range(200, 327)) + list(range(400, 527))


def test_difat_stops_at_the_end_of_the_file() -> None:
    h = header(difat_start=3, difat_count=1000)
    assert len(_ole2_difat(bytes(h) + bytes(512), 512, _Budget())) == 109


def test_next_sector_follows_the_fat() -> None:
    fat = u32s(0xFFFFFFFD, 5, ENDOFCHAIN) + b"\xff" * (512 - 12)
    buf = bytes(header()) + fat
    assert _ole2_next_sector(buf, [0], 512, 1) == 5
    assert _ole2_next_sector(buf, [0], 512, 2) == ENDOFCHAIN
    assert _ole2_next_sector(buf, [0], 512, 128) == containers._NOSTREAM  # past the DIFAT
    assert _ole2_next_sector(buf, [FREESECT], 512, 1) == containers._NOSTREAM
    assert _ole2_next_sector(buf, [9], 512, 1) == containers._NOSTREAM  # past the file


def test_directory_follows_its_chain_and_stops_at_a_loop() -> None:
    buf = compound_file([("WordDocument", b"x")])
    entries = _ole2_directory(buf, [0], 512, _Budget())
    assert entries == [1024, 1152, 1280, 1408] and buf[entries[0] + 0x42] == 5
    looped = bytearray(buf)
    struct.pack_into("<I", looped, 512 + 4, 1)  # the directory's sector points to itself
    assert _ole2_directory(bytes(looped), [0], 512, _Budget()) == entries


def test_directory_spends_a_step_per_sector() -> None:
    h = header()
    struct.pack_into("<I", h, 0x30, 0)
    fat = u32s(*range(1, 128)) + u32s(0)  # sector n leads to n + 1, then round again
    buf = bytes(h) + fat + bytes(512 * 127)
    assert len(_ole2_directory(buf, [0], 512, _Budget())) == 128 * 4  # once round, no more
    with pytest.raises(_Exhausted):
        _ole2_directory(buf, [0], 512, _Budget(100))


def test_name_is_ascii_with_the_rest_replaced() -> None:
    buf = compound_file([("Wörd", b"x")])
    assert _ole2_name(buf, 1024) == "Root Entry"
    assert _ole2_name(buf, 1152) == "W\ufffdrd"
    assert _ole2_name(bytes(200), 0) == ""  # a length field of 0


@pytest.mark.parametrize("tree, macros", [
    ([("WordDocument", b"x")], False),
    ([("WordDocument", b"x"), ("Macros", [("VBA", [("dir", b"x")])])], True),
    ([("Workbook", b"x"), ("_VBA_PROJECT_CUR", [("PROJECT", b"x")])], True),
    ([("Deep", [("Deeper", [("_VBA_PROJECT", b"x")])])], True),
])  # fmt: skip
def test_has_macros_looks_at_every_entry(tree: list, macros: bool) -> None:
    buf = compound_file(tree)
    assert _ole2_has_macros(buf, _ole2_directory(buf, [0], 512, _Budget())) is macros


@pytest.mark.parametrize("tree, kinds", [
    ([("WordDocument", b"x"), ("1Table", b"x")], {OLE_WORD}),
    ([("Book", b"x")], {OLE_EXCEL}),
    ([("WordDocument", b"x"), ("Workbook", b"x")], {OLE_WORD, OLE_EXCEL}),
    ([("Storage", [("WordDocument", b"x")])], set()),  # not the root's own stream
    ([], set()),
])  # fmt: skip
def test_root_streams_are_the_roots_children_only(tree: list, kinds: set) -> None:
    buf = compound_file(tree)
    assert _ole2_root_streams(buf, _ole2_directory(buf, [0], 512, _Budget()), _Budget()) == kinds


@pytest.mark.parametrize("tree, verdict", [
    ([("WordDocument", b"x")], OLE_WORD),
    ([("WordDocument", b"x"), ("Workbook", b"x")], OLE_OTHER),
    ([("Workbook", b"x"), ("_VBA_PROJECT_CUR", [("VBA", b"x")])], OLE_MACROS),
])  # fmt: skip
def test_the_steps_together(tree: list, verdict: str) -> None:
    assert inspect_ole2(compound_file(tree)) == verdict
