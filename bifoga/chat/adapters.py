"""The I/O boundaries of the flows (bifoga/chat/flows.py), as the flows call them.

In the browser they are thin wrappers over `pyscript` (adapters/api_client.py and the worker
adapters/worker_client.py, adapters/browser.py); in the tests, fakes. Pure: no imports.

api (every call async; failures raise RequestError):
    config(), visit(), messages(after, wait), send_text(text), attachments(),
    mark(attachment_id, mark), end_visit(), object_url(attachment), zip_url();
    attributes visit_id, token, visit_base (for the worker's upload request).
workers, the light one and the heavy one (async; bifoga/chat/worker_contract.py's messages):
    prepare(file, name, key, keep_date, max_bytes) -> Checked,
    reduce(file, key, max_bytes) -> Reduced (the heavy one), upload(UploadRequest) -> Uploaded,
    release(key), cancel(key); progress comes to Flows.progress.
browser:
    new_key() -> str, revoke(url), save_as(url, name), today() -> "YYYY-MM-DD",
    read_head(file, size) -> bytes (async: a picked file's first bytes).
"""


class RequestError(Exception):
    """An API request failed: status 0 when no answer came; code is the body's "error"."""

    def __init__(self, status, code=None, message=None):
        super().__init__(message or code or str(status))
        self.status = status
        self.code = code
        self.message = message or ""
