"""bifoga.media.source: the Source a check reads and the Plan of what is sent, in CPython and under
MicroPython."""

import pytest

from bifoga.media.source import BytesSource, Plan, Reader, whole
from tests.micropython_runner import micropython_available, repo_files, run_micropython

DATA = bytes(range(256)) * 700


@pytest.mark.parametrize("chunk", [1, 7, 100, 65536])
def test_reader_finds_and_reads_as_bytes_do(chunk: int) -> None:
    reader = Reader(BytesSource(DATA), chunk=chunk)
    for needle, start, end in ((b"\xfe\xff\x00", 0, None), (b"\x10\x11", 500, 600),
                               (b"\x10\x11", 500, 529), (b"zz", 0, None)):
        expected = DATA.find(needle, start, len(DATA) if end is None else end)
        assert reader.find(needle, start, end) == expected
    assert reader.read(5, 3) == DATA[5:8]
    assert reader.read(len(DATA) - 2, 10) == DATA[-2:]
    assert reader.byte(300) == DATA[300]
    with pytest.raises(IndexError):
        reader.byte(len(DATA))


def test_plan_joins_ranges_and_materialises() -> None:
    source = BytesSource(DATA)
    plan = Plan()
    plan.keep(0, 10)
    plan.keep(10, 20)
    plan.add(b"new")
    plan.keep(30, 40)
    assert plan.pieces == [("range", 0, 20), ("bytes", b"new"), ("range", 30, 40)]
    assert plan.materialise(source) == DATA[:20] + b"new" + DATA[30:40]
    assert plan.size == 33
    assert not plan.unchanged(source)
    assert whole(source).unchanged(source)


@pytest.mark.skipif(not micropython_available(), reason="node or MicroPython missing")
def test_source_runs_under_micropython() -> None:
    files = repo_files("bifoga.media.source")
    code = "\n".join([
        "from bifoga.media.source import BytesSource, Plan, Reader",
        "data = bytes(range(256)) * 50",
        "r = Reader(BytesSource(data), chunk=7)",
        "p = Plan(); p.keep(0, 3); p.add(b'x'); p.keep(5, 6)",
        "print(r.find(b'\\xfe\\xff', 0), r.read(3, 2) == data[3:5], p.size,",
        "      p.materialise(BytesSource(data)) == data[:3] + b'x' + data[5:6])",
    ])
    assert run_micropython(code, files).split() == ["254", "True", "5", "True"]
