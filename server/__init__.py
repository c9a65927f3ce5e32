"""The reference backend: a Starlette app (CPython only) serving the chat's API and tus uploads.

Words for where state is kept, one per concept:

* **storage**: the contract the handlers use, in server/storage.py. Five small capability
  interfaces (`VisitStorage`, `MessageStorage`, `UploadStorage`, `AttachmentStorage`,
  `FilingStorage`) and `Storage`, all five plus start and stop. The object the app holds is
  `AppContext.storage`; a variable holding one is called `storage` too.
* **SqliteStorage** (server/sqlite_storage.py) and **PgStorage** (server/pg_storage.py): the
  two backends, each implementing every interface once. `server.app.open_storage` picks one:
  PgStorage when DATABASE_URL is set, else SqliteStorage in DATA_DIR.

"Store" names none of these (on the server it is only the verb).
"""
