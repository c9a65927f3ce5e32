"""API errors: raised anywhere, turned into `{"error": code, "message": msg}` by one handler."""

from __future__ import annotations

from bifoga.media import refusals


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"
    message: str = "Bad request."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "Bad request."


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "Missing or invalid token."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "Your role may not do this."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "Conflict."


class VisitEnded(Conflict):
    code, message = "visit_ended", "The visit has ended."


class PreconditionFailed(ApiError):
    status, code, message = 412, "unsupported_tus_version", "Tus-Resumable must be 1.0.0."


class TooLarge(ApiError):
    status, code, message = 413, "too_large", "The file is larger than allowed."


class NotAllowedType(ApiError):
    status, code, message = 415, "type_not_allowed", "This file type is not allowed."


class RangeNotSatisfiable(ApiError):
    status, code, message = 416, "range_not_satisfiable", "The range is outside the file."


class UploadTooSlow(ApiError):
    # 408 like a stalled body (the client resumes from HEAD's offset); the connection is closed
    # because the rest of the body is never read.
    status, code = 408, "upload_too_slow"
    message = "The upload came slower than the server's minimum rate"

    def __init__(self, why: str | None = None) -> None:
        super().__init__(f"{why or self.message}; it was cut and the bytes that arrived are "
                         "kept. Resume from the offset HEAD gives.",
                         headers={"Connection": "close"})


class Locked(ApiError):
    status, code, message = 423, "upload_busy", "Another request is writing this upload."


class TooManyRequests(ApiError):
    status, code, message = 429, "rate_limited", "Too many requests, slow down."


class TooManyUploadWrites(TooManyRequests):
    code = "too_many_upload_writes"
    message = "This link is already sending as many uploads as it may at once; retry shortly."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class ChecksumMismatch(ApiError):
    # 460 is the status the tus checksum extension defines.
    status, code, message = 460, "checksum_mismatch", "The chunk does not match Upload-Checksum."


class VisitQuotaExceeded(TooLarge):
    code = refusals.VISIT_QUOTA_EXCEEDED
    message = ("This visit already holds as many files as it may; ask the clinic for a new "
               "visit to send more.")


class AudioNotAllowed(NotAllowedType):
    code, message = refusals.AUDIO_NOT_ALLOWED, "Sound files cannot be sent in the chat."


class EmptyFile(BadRequest):
    code, message = refusals.EMPTY_FILE, "The file is empty."


class ActiveContent(NotAllowedType):
    code = refusals.ACTIVE_CONTENT
    message = ("The document contains macros, scripts or embedded programs. Save or print it "
               "as a plain PDF and send that instead.")


class DocumentUnreadable(NotAllowedType):
    code = refusals.DOCUMENT_UNREADABLE
    message = ("The document could not be opened to be checked: it may be damaged or locked "
               "with a password. Save it again without a password, or print it as a PDF, and "
               "send that instead.")


class LinkExpired(ApiError):
    status, code = 410, "link_expired"
    message = ("This link has expired: the visit ended a while ago and its files have been "
               "deleted. Contact the clinic if you need something from it.")


class InsufficientStorage(ApiError):
    # 507 (WebDAV, RFC 4918): the server cannot store what the request needs right now.
    status, code = 507, "insufficient_storage"
    message = "The clinic's storage is full right now. Try again later; nothing was saved."
