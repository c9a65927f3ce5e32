"""The content sniffer's first-bytes stage: what a file's first HEAD_BYTES already prove.

`bifoga.media.sniff.classify` runs these same checks on the whole file (they never read past
HEAD_BYTES) before its container parsers' verdicts, active-content checks and text test; the
main thread runs `first_look` on a picked file's head at once, before the worker is up. One
implementation of every signature, layered: the audio signatures, the allowed magic numbers
and the prefixes that send a file to a container parser live here only.

Runs under MicroPython 1.27 too (the main thread): no `re`, no typing, no dataclasses, no
f-strings, only plain bytes operations. Annotations are fine (MicroPython ignores them).
"""

from bifoga.media.limits import category_of
from bifoga.media.refusals import AUDIO_NOT_ALLOWED, EMPTY_FILE

# The main thread reads only this much of a picked file: copying JS bytes into MicroPython
# costs about 1 ms per KiB. Every check below reads less than this.
HEAD_BYTES = 8192

# `first_look` answers (answer, detail, category):
REFUSE = "refuse"  # (REFUSE, reason, None): final, classify on the whole file says the same
LIKELY = "likely"  # (LIKELY, mime, category): only this type or a non-type refusal follows
UNDECIDED = "undecided"  # (UNDECIDED, None, None): only the whole file can tell

_UNDECIDED = (UNDECIDED, None, None)


# --------------------------------------------------------------------------- container prefixes

# A file starting with one of these goes to a container parser, whose verdict needs the whole
# file (tracks, directories, streams), so the head stage never judges it.
EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # Matroska / WebM
OGG_MAGIC = b"OggS"
ASF_MAGIC = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"  # WMA / WMV
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office, MSI, Outlook messages
ZIP_MAGIC = b"PK\x03\x04"  # OOXML, ODF and any other zip
CONTAINER_MAGICS = (EBML_MAGIC, OGG_MAGIC, ASF_MAGIC, OLE2_MAGIC, ZIP_MAGIC)

_ISO_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")


def looks_isobmff(buf: bytes) -> bool:
    """True if the file starts like an ISO-BMFF/QuickTime box (MP4, MOV, M4A, 3GP, HEIF)."""
    if len(buf) < 8 or buf[4:8] not in _ISO_FIRST_BOXES:
        return False
    size = int.from_bytes(buf[0:4], "big")
    return size in (0, 1) or size >= 8


def container_magic(buf: bytes):
    """The CONTAINER_MAGICS entry `buf` starts with, or None (they differ in the first byte)."""
    for magic in CONTAINER_MAGICS:
        if buf[: len(magic)] == magic:
            return magic
    return None


# --------------------------------------------------------------------------- audio signatures

# (offset, magic) pairs that mark sound only. MP3/AAC (too loose alone), M4A (brand only: the
# track walk decides) and Ogg (Theora is a film) are judged elsewhere.
_AUDIO_MAGICS = (
    (0, b"MThd"),  # MIDI (filetype 1.2.0's Midi)
    (0, b"fLaC"),  # FLAC (filetype 1.2.0's Flac)
    (0, b"#!AMR-WB\n"),
    (0, b"#!SILK_V3"),
    (0, b"caff\x00\x01"),  # Apple Core Audio Format
    (0, b".snd"),  # Sun/NeXT AU
    (0, b"MAC "),  # Monkey's Audio
    (0, b"wvpk"),  # WavPack
    (0, b"MPCK"),  # Musepack SV8
    (0, b"MP+"),  # Musepack SV7
    (0, b"TTA1"),
    (0, b"DSD "),  # Sony DSF
    (0, b"Creative Voice File\x1a"),
    (0, b"\x7f\xfe\x80\x01"),  # DTS
    (0, b"APETAGEX"),
)
_AMR_MAGIC = b"#!AMR\n"
_AMR_MIN_LENGTH = 12  # filetype 1.2.0's Amr matcher wanted 12 bytes; shorter is judged as text
# RIFF form types that hold only sound (RIFF....WAVE is filetype's Wav).
_RIFF_AUDIO_FORMS = (b"WAVE", b"RMID", b"QLCM")
# IFF/FRM8 form types that hold only sound (FORM....AIFF is filetype's Aiff).
_FORM_AUDIO_TYPES = (b"AIFF", b"AIFC", b"DSD ")

_MPEG_BITRATES = {  # kbit/s by (version is MPEG-1, layer); index 0 = free format
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_frame_length(buf: bytes, o: int):
    """Length of the MPEG audio frame whose header is at `o`, or None if it is not one.

    The longest frame (MPEG-2.5 Layer II, 160 kbit/s, 8 kHz) is 2,881 bytes, so a frame and
    the next header always fit in HEAD_BYTES.
    """
    if len(buf) - o < 4 or buf[o] != 0xFF or buf[o + 1] & 0xE0 != 0xE0:
        return None
    version = (buf[o + 1] >> 3) & 3  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 reserved
    layer = (buf[o + 1] >> 1) & 3  # 3 = Layer I, 2 = II, 1 = III, 0 reserved
    bitrate_index = buf[o + 2] >> 4
    rate_index = (buf[o + 2] >> 2) & 3
    if version == 1 or layer == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (buf[o + 2] >> 1) & 1
    if layer == 3:
        return (12 * bitrate // rate + padding) * 4
    if layer == 1 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _is_mpeg_audio(buf: bytes) -> bool:
    length = mpeg_frame_length(buf, 0)
    if length is None:
        return False
    # One valid header could be chance (a UTF-16 BOM is one); a second one right after the
    # first frame is not.
    return mpeg_frame_length(buf, length) is not None


def _is_adts(buf: bytes) -> bool:
    # AAC ADTS: 12-bit sync, layer bits 00, a valid sampling index, a frame length >= 7.
    if len(buf) < 7 or buf[0] != 0xFF or buf[1] & 0xF6 != 0xF0:
        return False
    if (buf[2] >> 2) & 0x0F > 12:
        return False
    frame = ((buf[3] & 0x03) << 11) | (buf[4] << 3) | (buf[5] >> 5)
    return frame >= 7


def _is_id3(buf: bytes) -> bool:
    # "ID3", version 2..4, revision, flags, then a 28-bit syncsafe size (high bits clear).
    if len(buf) < 10 or buf[:3] != b"ID3" or not 2 <= buf[3] <= 4 or buf[4] == 0xFF:
        return False
    for b in buf[6:10]:
        if b >= 0x80:
            return False
    return True


def is_audio(buf: bytes) -> bool:
    """True if the file starts with a signature of sound only. Reads < HEAD_BYTES bytes.

    `classify` asks this only of files no container parser took (an M4A or a WebM with only
    sound is found by its track walk, not here).
    """
    if _is_id3(buf) or _is_mpeg_audio(buf) or _is_adts(buf):
        return True
    if buf[:4] in (b"RIFF", b"RF64", b"BW64") and buf[8:12] in _RIFF_AUDIO_FORMS:
        return True
    if buf[:4] == b"FORM" and buf[8:12] in _FORM_AUDIO_TYPES:
        return True
    if buf[:4] == b"FRM8" and buf[12:16] == b"DSD ":  # Philips DSDIFF
        return True
    for offset, magic in _AUDIO_MAGICS:
        if buf[offset : offset + len(magic)] == magic:
            return True
    return len(buf) >= _AMR_MIN_LENGTH and buf[: len(_AMR_MAGIC)] == _AMR_MAGIC


# --------------------------------------------------------------------------- allowed signatures

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"
RTF = "application/rtf"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"  # an animated PNG (acTL chunk) is still a PNG
_UTF8_BOM = b"\xef\xbb\xbf"


def allowed_mime(buf: bytes):
    """The allowed type whose full magic number starts `buf`, or None. Reads < 300 bytes.

    Only types the first bytes prove: HEIC/HEIF and films need their boxes walked (a brand
    alone can front a sound-only file), Office files their directories, text the whole file.
    """
    if buf[:3] == b"\xff\xd8\xff":
        return JPEG
    if buf[:8] == _PNG_MAGIC:
        return PNG
    if buf[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if buf[:4] == b"RIFF" and buf[8:14] == b"WEBPVP":
        return WEBP
    if buf[:5] == b"%PDF-" or buf[:8] == _UTF8_BOM + b"%PDF-":
        return PDF
    if buf[:5] == b"{\\rtf":
        return RTF
    return None


# --------------------------------------------------------------------------- the first look

def first_look(head: bytes, size: int, name: str = "") -> tuple:
    """Judge a file by its first bytes: `head` = its first min(size, HEAD_BYTES) bytes.

    Returns (REFUSE, reason, None) with EMPTY_FILE or AUDIO_NOT_ALLOWED, final;
    (LIKELY, mime, category) for JPEG, PNG, GIF, WebP, PDF or RTF: the full check may still
    refuse it (active content, an image that does not decode, metadata not removed), but it
    never comes out as another allowed type or as audio; or (UNDECIDED, None, None).
    The size limit is limits.check_size's. `name` never changes the answer (only the whole
    file's checks consult it); it is taken so that callers pass what classify takes.
    Never raises.
    """
    if size < 1:
        return (REFUSE, EMPTY_FILE, None)
    try:
        # Slicing and comparing need bytes; a bytes head is used as it is (no 8 KiB copy).
        return _first_look(head if isinstance(head, bytes) else bytes(head), size)
    except Exception:  # a bug here must never block a pick: the worker still checks all
        return _UNDECIDED


def _first_look(head: bytes, size: int) -> tuple:
    if len(head) < min(size, HEAD_BYTES):
        return _UNDECIDED  # not the whole head: checks on a cut head could be wrong
    # classify's order: a file a container parser takes is judged by that parser only.
    if looks_isobmff(head) or container_magic(head) is not None:
        return _UNDECIDED
    if is_audio(head):
        return (REFUSE, AUDIO_NOT_ALLOWED, None)
    mime = allowed_mime(head)
    if mime is not None:
        return (LIKELY, mime, category_of(mime))
    return _UNDECIDED
