"""The names of the events components raise and app.py connects to the flows, defined once:
a component emits `events.UPLOAD`, app.py listens with `.on(events.UPLOAD, …)`, and a name
that is not here fails (components/dom.py checks each; tests/test_ui_logic.py reads the code).
Pure and MicroPython-safe.
"""

PICKED = "picked"  # (list of File)
DROPPED = "dropped"  # (list of File)
SEND = "send"  # (text)
UPLOAD = "upload"
CANCEL = "cancel"
KEEP_DATE = "keep_date"  # (key, bool)
REDUCE = "reduce"  # (key)
END = "end"
REMINDER = "reminder"
END_ANYWAY = "end_anyway"
BACK = "back"
CONFIRM = "confirm"
MARK = "mark"  # (attachment id, mark)
DOWNLOAD = "download"  # (attachment)
DOWNLOAD_ALL = "download_all"
ENLARGE = "enlarge"  # (attachment)
UNSHOWABLE = "unshowable"  # (attachment id)
STEP = "step"  # (-1 or 1)
SAVE = "save"  # (attachment)
CLOSED = "closed"

ALL = (PICKED, DROPPED, SEND, UPLOAD, CANCEL, KEEP_DATE, REDUCE, END, REMINDER, END_ANYWAY,
       BACK, CONFIRM, MARK, DOWNLOAD, DOWNLOAD_ALL, ENLARGE, UNSHOWABLE, STEP, SAVE, CLOSED)
