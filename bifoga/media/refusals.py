"""The one vocabulary of refusal reasons: why a file is not sent.

The same words everywhere: the sniffer's and the size check's verdicts, the worker's answers,
the server's error codes (`{"error": code}`), and the catalogue keys (`refusal.<code>` in
bifoga/chat/i18n.py). A new reason is added here first, then given its text in both languages.

Plain strings and no imports: it runs under MicroPython on the main thread too.
"""

TOO_LARGE = "too_large"
EMPTY_FILE = "empty_file"
AUDIO_NOT_ALLOWED = "audio_not_allowed"
TYPE_NOT_ALLOWED = "type_not_allowed"
IMAGE_DOES_NOT_DECODE = "image_does_not_decode"
METADATA_NOT_REMOVED = "metadata_not_removed"
ACTIVE_CONTENT = "active_content"
# The server's reference parser (qpdf, oletools) cannot open the document: damaged, or locked
# with a password.
DOCUMENT_UNREADABLE = "document_unreadable"
VISIT_QUOTA_EXCEEDED = "visit_quota_exceeded"
INSUFFICIENT_STORAGE = "insufficient_storage"
# The browser could not check the file at all (the worker failed): try again.
CHECK_FAILED = "check_failed"

ALL = (TOO_LARGE, EMPTY_FILE, AUDIO_NOT_ALLOWED, TYPE_NOT_ALLOWED, IMAGE_DOES_NOT_DECODE,
       METADATA_NOT_REMOVED, ACTIVE_CONTENT, DOCUMENT_UNREADABLE, VISIT_QUOTA_EXCEEDED,
       INSUFFICIENT_STORAGE, CHECK_FAILED)


def catalogue_key(reason):
    """The catalogue key of a reason's text; an unknown reason reads as a type not allowed."""
    return "refusal." + (reason if reason in ALL else TYPE_NOT_ALLOWED)
