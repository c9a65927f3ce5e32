"""Formatting for the chat: sizes, times, kinds. Pure, runs under MicroPython and CPython."""

from bifoga.chat.i18n import text
from bifoga.media.refusals import catalogue_key

KIB = 1024
MIB = 1024 * 1024


def _decimal(value, lang):
    """A number with one decimal, Swedish decimal comma; a trailing ',0' is dropped."""
    whole, tenth = divmod(int(value * 10 + 0.5), 10)
    if tenth == 0:
        return str(whole)
    return str(whole) + ("," if lang == "sv" else ".") + str(tenth)


def format_size(size, lang):
    """'3,2 MB' in Swedish, '3.2 MB' in English; binary units, as the 10 MB limit is."""
    if size < KIB:
        return text(lang, "unit.byte", n=str(size))
    if size < MIB:
        return text(lang, "unit.kb", n=_decimal(size / KIB, lang))
    return text(lang, "unit.mb", n=_decimal(size / MIB, lang))


def parse_iso_utc(stamp):
    """'2026-11-27T14:05:03Z' (or +00:00, with fractions) -> (y, mo, d, h, mi, s)."""
    s = stamp.strip()
    date_part, _, time_part = s.partition("T")
    y, mo, d = (int(p) for p in date_part.split("-"))
    for end in ("Z", "+00:00"):
        if time_part.endswith(end):
            time_part = time_part[: -len(end)]
    hms = time_part.split(".")[0].split(":")
    h, mi = int(hms[0]), int(hms[1])
    sec = int(hms[2]) if len(hms) > 2 else 0
    return y, mo, d, h, mi, sec


def _days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01, no datetime module needed (MicroPython).
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def to_local(stamp, utc_offset_minutes):
    """UTC ISO stamp -> local (y, mo, d, h, mi) given the browser's offset east of UTC."""
    y, mo, d, h, mi, _ = parse_iso_utc(stamp)
    total = _days_from_civil(y, mo, d) * 1440 + h * 60 + mi + utc_offset_minutes
    days, minutes = divmod(total, 1440)
    ly, lmo, ld = _civil_from_days(days)
    return ly, lmo, ld, minutes // 60, minutes % 60


def format_time(stamp, lang, utc_offset_minutes=0):
    """'14:05' in both languages (24-hour clock is the norm in Sweden and fine in English UI)."""
    _, _, _, h, mi = to_local(stamp, utc_offset_minutes)
    return "{:02d}:{:02d}".format(h, mi)


def format_datetime(stamp, lang, utc_offset_minutes=0):
    """'2026-11-27 14:05': ISO date order is what Swedish uses, and unambiguous in English."""
    y, mo, d, h, mi = to_local(stamp, utc_offset_minutes)
    return "{:04d}-{:02d}-{:02d} {:02d}:{:02d}".format(y, mo, d, h, mi)


def kind_label(category, lang):
    if category in ("image", "video", "document"):
        return text(lang, "kind." + category)
    return text(lang, "kind.unknown")


def refusal_message(reason, name, size, max_bytes, lang):
    """The role=alert text for a refused file: names the file, the reason and what to do."""
    key = catalogue_key(reason)
    return text(
        lang,
        key,
        name=name,
        size=format_size(size, lang),
        max=format_size(max_bytes, lang),
        detail="",
    )


_TYPE_LABELS = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
    "image/heic": "HEIC", "image/heif": "HEIF", "video/mp4": "MP4", "video/webm": "WebM",
    "video/quicktime": "MOV", "application/pdf": "PDF", "application/msword": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.ms-excel": "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.ms-powerpoint": "PowerPoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/vnd.oasis.opendocument.presentation": "ODP",
    "application/rtf": "RTF", "text/plain": "TXT",
}


def type_label(mime):
    """A short, language-neutral name for a file type: 'PDF', 'JPEG', 'Word'."""
    if not mime:
        return "?"
    return _TYPE_LABELS.get(mime) or mime.split("/")[-1].upper()[:12]


def guess_category(mime):
    """First guess from the browser's type, only to choose how to preview; the check decides."""
    mime = mime or ""
    if mime.startswith("image/") and mime != "image/svg+xml":
        return "image"
    if mime.startswith("video/"):
        return "video"
    return "document"


def with_extension(name, extension):
    """'utslag.png' -> 'utslag.jpg' after a re-encode; a name without one gets it added."""
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    return stem + extension


def metadata_labels(removed, lang):
    """The plain-words list of what was removed, in the catalogue's order, without repeats."""
    order = ("gps", "camera", "maker_notes", "datetime", "xmp", "iptc", "comment", "thumbnail",
             "other_exif")
    return [text(lang, "meta." + key) for key in order if key in removed]


def card_info(attachment, lang):
    """'Dokument · PDF · 19,5 kB' under a file card's name."""
    return text(lang, "attachment.card_info", kind=kind_label(attachment.get("category"), lang),
                type=type_label(attachment.get("mime")),
                size=format_size(attachment["size"], lang))


def record_texts(rec, max_bytes, lang):
    """What the preview says about one picked file (a bifoga.chat.model record): its details line,
    its status (role=status) and its alert (role=alert)."""
    name, status = rec["name"], rec["status"]
    kind = kind_label(rec["category"], lang)
    if rec["reduced"]:
        width, height = rec["reduced"]
        details = text(lang, "reduce.done", size=format_size(rec["size"], lang),
                       dimensions=text(lang, "meta.dimensions", width=width, height=height))
    elif rec["typed"]:
        details = text(lang, "preview.file_info_typed", name=name, kind=kind,
                       type=type_label(rec["mime"]), size=format_size(rec["size"], lang))
        if rec["converted"]:
            details += " " + text(lang, "preview.converted")
    else:
        details = text(lang, "preview.file_info", name=name, kind=kind,
                       size=format_size(rec["size"], lang))
    says, alert = "", ""
    if status in ("checking", "ready") and rec["imaging"]:
        says = text(lang, "preview.preparing_imaging", name=name)
    elif status == "checking":
        says = text(lang, "preview.checking")
    elif status == "ready" and rec["waiting"]:
        says = text(lang, "preview.waiting_metadata" if rec["category"] in ("image", "video")
                    else "preview.waiting_check", name=name)
    elif status == "ready":
        says = text(lang, "preview.ready" if rec["verified"] else "preview.ready_first",
                    name=name)
    elif status == "reducing":
        says = text(lang, "reduce.working")
    elif status == "uploading":
        says = (text(lang, "preview.reconnecting") if rec["reconnecting"] else
                text(lang, "preview.uploading", name=name, percent=rec["progress"]))
    elif status == "sent":
        says = text(lang, "preview.sent", name=name)
    elif status in ("refused", "failed"):
        alert = _refusal_text(rec, max_bytes, lang)
    return {"details": details, "status": says, "alert": alert}


def _refusal_text(rec, max_bytes, lang):
    reason, name = rec["reason"], rec["name"]
    if reason == "check_failed":
        return text(lang, "refusal.check_failed", name=name, detail=rec["detail"])
    if reason == "reduce_failed":
        return text(lang, "reduce.failed")
    if reason == "visit_ended":
        return text(lang, "upload.visit_ended")
    if reason == "upload_failed":
        code = rec["status_code"]
        detail = (text(lang, "error.status", status=code) if code else
                  text(lang, "error.network"))
        return text(lang, "upload.failed", name=name, detail=detail)
    return refusal_message(reason, name, rec["size"], max_bytes, lang)


def sender_label(message, my_role, lang):
    """"Du" for one's own messages, else the sender's name."""
    if message["sender_role"] == my_role:
        return text(lang, "chat.you")
    return message.get("sender_name") or ""


def sender_line(message, my_role, lang, utc_offset_minutes=0):
    """'Alex Patient, 14:05' under an enlarged image."""
    return (sender_label(message, my_role, lang) + ", "
            + format_time(message["sent_at"], lang, utc_offset_minutes))
