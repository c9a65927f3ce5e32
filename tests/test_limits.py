"""bifoga/media/limits.py: the size limit, the allowed types, and that it runs under MicroPython."""

import json

import pytest

from bifoga.media import limits
from bifoga.media.limits import (
    ACCEPT_ATTRIBUTE,
    ALLOWED_MIME_TYPES,
    DEFAULT_MAX_BYTES,
    category_of,
    check_size,
)
from tests.micropython_runner import (
    REPO,
    assert_fits_micropython,
    micropython_available,
    repo_files,
    run_micropython,
)

AUDIO_EXTENSIONS = (".mp3", ".m4a", ".aac", ".wav", ".ogg", ".oga", ".opus", ".flac", ".aiff",
                    ".amr", ".wma", ".mid", ".midi", ".caf", ".weba", ".mka")


def test_default_limit_is_ten_mebibytes() -> None:
    assert DEFAULT_MAX_BYTES == 10 * 1024 * 1024 == 10_485_760


@pytest.mark.parametrize(
    "size, expected",
    [
        (10_485_760, None),  # inclusive: exactly the limit is fine
        (10_485_761, "too_large"),
        (10_485_759, None),
        (1, None),
        (0, "empty_file"),
        (-1, "empty_file"),
        (10**12, "too_large"),
    ],
)
def test_check_size_with_default_limit(size: int, expected: str | None) -> None:
    assert check_size(size, DEFAULT_MAX_BYTES) == expected
    assert check_size(size) == expected


def test_check_size_with_other_limit() -> None:
    assert check_size(100, 100) is None
    assert check_size(101, 100) == "too_large"
    assert check_size(0, 100) == "empty_file"


def test_allowed_mime_types_exactly() -> None:
    assert ALLOWED_MIME_TYPES == (
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif",
        "video/mp4", "video/webm", "video/quicktime",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/rtf",
        "text/plain",
    )
    assert len(set(ALLOWED_MIME_TYPES)) == len(ALLOWED_MIME_TYPES)
    assert not any(m.startswith("audio/") for m in ALLOWED_MIME_TYPES)


def test_categories() -> None:
    assert {category_of(m) for m in ALLOWED_MIME_TYPES} == {"image", "video", "document"}
    assert category_of("image/heic") == "image"
    assert category_of("video/quicktime") == "video"
    assert category_of("text/plain") == "document"
    assert category_of("audio/mpeg") is None
    assert category_of("image/svg+xml") is None


def test_accept_attribute() -> None:
    parts = ACCEPT_ATTRIBUTE.split(",")
    assert parts[: len(ALLOWED_MIME_TYPES)] == list(ALLOWED_MIME_TYPES)
    assert parts[len(ALLOWED_MIME_TYPES):] == [
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".mp4", ".webm", ".mov",
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp",
        ".rtf", ".txt",
    ]
    assert " " not in ACCEPT_ATTRIBUTE
    assert "audio" not in ACCEPT_ATTRIBUTE
    assert not set(parts) & set(AUDIO_EXTENSIONS)


def test_source_avoids_what_micropython_lacks() -> None:
    assert_fits_micropython(REPO / "bifoga" / "media" / "limits.py")


@pytest.mark.skipif(not micropython_available(),
                    reason="node or node_modules/@micropython/... is missing (npm ci)")
def test_limits_runs_under_micropython() -> None:
    files = repo_files("bifoga.media.limits", "bifoga.media.refusals")
    code = "\n".join([
        "import sys",
        "sys.path.append('/')",
        "from bifoga.media import limits",
        "print(sys.implementation.name)",
        "print(limits.check_size(10485760, limits.DEFAULT_MAX_BYTES))",
        "print(limits.check_size(10485761, limits.DEFAULT_MAX_BYTES))",
        "print(limits.check_size(0, limits.DEFAULT_MAX_BYTES))",
        "print(limits.check_size(5))",
        "print(limits.ACCEPT_ATTRIBUTE)",
        "print(limits.category_of('video/webm'))",
        "print(len(limits.ALLOWED_MIME_TYPES))",
    ])
    out = run_micropython(code, files).splitlines()
    assert out == [
        "micropython",
        "None",
        "too_large",
        "empty_file",
        "None",
        ACCEPT_ATTRIBUTE,
        "video",
        str(len(ALLOWED_MIME_TYPES)),
    ]


@pytest.mark.skipif(not micropython_available(), reason="node or MicroPython build missing")
def test_micropython_runner_reports_errors() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_micropython("1/0", {})
    assert run_micropython("print(" + json.dumps("ok") + ")", {}) == "ok\n"


def test_module_has_no_cpython_only_state() -> None:
    # Everything public is a plain int/str/tuple or a function: the same under MicroPython.
    public = {k: v for k, v in vars(limits).items() if not k.startswith("_")}
    for value in public.values():
        assert isinstance(value, int | str | tuple) or callable(value)
