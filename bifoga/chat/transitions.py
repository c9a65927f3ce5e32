"""The app's transitions: an event, or a worker or API result, goes in; a patch for the model
(bifoga/chat/model.py) comes out. Pure functions of the state: no I/O, no `js`; MicroPython-safe.

bifoga/chat/flows.py calls them around its awaits and applies the patches.
"""

from bifoga.chat import model
from bifoga.chat.formatting import guess_category, with_extension
from bifoga.chat.i18n import text
from bifoga.chat.model import (
    CHECKING,
    CONFIRM_END,
    FAILED,
    PREVIEW,
    READY,
    REDUCING,
    REFUSED,
    REMINDER,
    SENT,
    UPLOADING,
)
from bifoga.media import refusals
from bifoga.media.limits import check_size
from bifoga.media.sniff_head import LIKELY, REFUSE

# Upload failures that are not refusals of the file itself.
VISIT_ENDED = "visit_ended"
UPLOAD_FAILED = "upload_failed"


def t(state, key, **values):
    return text(state["lang"], key, **values)


def focus(state, target):
    serial = (state.get("focus") or (None, 0))[1]
    return {"focus": (target, serial + 1)}


def say(message):
    return {"notice": {"status": message, "alert": ""}}


def warn(state, message):
    return {"notice": {"status": state["notice"]["status"], "alert": message}}


def error_detail(state, status):
    if status:
        return t(state, "error.status", status=status)
    return t(state, "error.network")


def _with_records(state, changes):
    """A new attachments list in which the records named in `changes` (key -> fields) differ."""
    out = []
    for rec in state["attachments"]:
        if rec["key"] in changes:
            rec = dict(rec)
            rec.update(changes[rec["key"]])
        out.append(rec)
    return out


def update_record(state, key, **fields):
    if model.record(state, key) is None:
        return {}
    return {"attachments": _with_records(state, {key: fields})}


# --- the visit and the chat --------------------------------------------------------------------
def loaded(state, config, visit):
    return {"config": config, "visit": visit}


def visit_changed(state, visit):
    """A new visit state from the API; at the end nothing more can be sent or shown inline."""
    patch = {"visit": visit}
    if visit.get("state") != "ended":
        return patch
    if state.get("dialog") in (PREVIEW, model.VIEWER):
        patch["dialog"] = None
    patch.update(attachments=[], sending=False, preview_finished=False, viewer=None,
                 object_urls={})
    return patch


def messages_arrived(state, messages, cursor=None):
    known = set(m["id"] for m in state["messages"])
    new = [m for m in messages if m["id"] not in known]
    patch = {"messages": state["messages"] + new} if new else {}
    if cursor is not None:
        patch["cursor"] = cursor
    return patch


def image_unshowable(state, attachment_id):
    """The browser could not decode an image (HEIC in Chromium): a file card from now on."""
    if attachment_id in state["unshowable"]:
        return {}
    return {"unshowable": state["unshowable"] + [attachment_id]}


def text_sending(state):
    return {"composer_busy": True}


def text_sent(state, message):
    patch = messages_arrived(state, [message])
    patch.update(composer_busy=False, composer_sent=state["composer_sent"] + 1,
                 notice={"status": state["notice"]["status"], "alert": ""})
    patch.update(focus(state, "composer"))
    return patch


def text_failed(state, status):
    message = (t(state, "upload.visit_ended") if status == 409 else
               t(state, "composer.send_failed", detail=error_detail(state, status)))
    patch = warn(state, message)
    patch.update(composer_busy=False)
    patch.update(focus(state, "composer"))
    return patch


# --- picking and checking ----------------------------------------------------------------------
def picked(state, files):
    """files: (key, File, name, size, mime) for each picked file. A new preview replaces the
    last."""
    if not model.can_pick(state) or not files:
        return {}
    max_bytes = state["config"]["max_attachment_bytes"]
    records = []
    for key, file, name, size, mime in files:
        rec = model.new_record(key, name, size, mime, guess_category(mime), file)
        reason = check_size(size, max_bytes)
        # A too large photo is not simply refused: the worker may offer to reduce it.
        if reason and not (reason == refusals.TOO_LARGE and rec["category"] == "image"):
            rec.update(status=REFUSED, reason=reason, as_card=True)
        records.append(rec)
    return {"attachments": records, "dialog": PREVIEW, "preview_finished": False,
            "dialog_alert": "", "focus": focus(state, "preview_cancel")["focus"]}


def checking(state):
    """Keys the worker should check now (their records say "checking")."""
    return [rec["key"] for rec in state["attachments"] if rec["status"] == CHECKING]


def worker_state(state, name, value):
    """A worker (model.LIGHT or model.HEAVY) is starting, ready or failed."""
    workers = dict(state["workers"])
    workers[name] = value
    return {"workers": workers}


def worker_failed(state, detail):
    """The heavy worker could not start: the files that wait for it can't be checked, so none
    waits any longer."""
    changes = {rec["key"]: {"status": REFUSED, "reason": refusals.CHECK_FAILED, "as_card": True,
                            "detail": detail, "waiting": False, "imaging": False}
               for rec in state["attachments"]
               if rec["status"] in (CHECKING, READY) and not rec["verified"] and rec["imaging"]}
    patch = worker_state(state, model.HEAVY, model.FAILED)
    patch["worker_failed"] = detail
    if changes:
        patch["attachments"] = _with_records(state, changes)
    return patch


def check_started(state, key):
    """A new check of a file: its serial goes up (an older check's answer is late now) and no
    worker holds a copy of it any more. Returns (patch, serial)."""
    rec = model.record(state, key)
    if rec is None:
        return {}, 0
    serial = rec["check_serial"] + 1
    return update_record(state, key, check_serial=serial, holder=""), serial


def is_current(state, key, serial):
    rec = model.record(state, key)
    return rec is not None and rec["check_serial"] == serial


def handed_over(state, key, serial):
    """The light worker leaves the file to the heavy one; until that is up the preview says
    so."""
    if not is_current(state, key, serial):
        return {}
    return update_record(state, key, imaging=state["workers"][model.HEAVY] != model.READY)


def check_ended(state, key, serial, detail="no answer"):
    """A check finished: if it left its file undecided (its answer was lost, or it failed
    before one came), the file is refused with a reason, so that nothing waits for it."""
    rec = model.record(state, key)
    if (rec is None or rec["check_serial"] != serial or rec["verified"]
            or rec["status"] not in (CHECKING, READY)):
        return {}
    return update_record(state, key, status=REFUSED, reason=refusals.CHECK_FAILED,
                         as_card=True, waiting=False, imaging=False,
                         detail=rec["detail"] or detail)


def first_looked(state, key, look):
    """What the file's first bytes say (bifoga.media.sniff_head.first_look), checked on the main
    thread at once: a refusal is final; a type they prove makes the file ready to be sent, the
    worker's full check still to come (the upload waits for it); otherwise it stays checking."""
    answer, detail, category = look
    rec = model.record(state, key)
    if rec is None or rec["status"] != CHECKING or answer not in (REFUSE, LIKELY):
        return {}
    if answer == REFUSE:
        fields = {"status": REFUSED, "reason": detail, "as_card": True}
    elif check_size(rec["size"], state["config"]["max_attachment_bytes"]):
        return {}  # a too large photo: the worker may offer to reduce it
    else:
        fields = {"status": READY, "mime": detail, "category": category, "typed": True}
    patch = {"attachments": _with_records(state, {key: fields})}
    if fields["status"] == READY and len(state["attachments"]) == 1:
        patch.update(focus(state, "upload"))
    return patch


def checked(state, key, result, holder, serial):
    """A worker's verdict (worker_contract.Checked) on one file, after its first bytes' or
    instead of it; `holder` (model.LIGHT or model.HEAVY) holds the copy to send."""
    rec = model.record(state, key)
    if (rec is None or rec["verified"] or rec["status"] not in (CHECKING, READY)
            or rec["check_serial"] != serial):
        return {}  # cancelled, replaced, or checked again meanwhile
    if result.reason == refusals.CHECK_FAILED:
        fields = {"status": REFUSED, "reason": refusals.CHECK_FAILED, "as_card": True,
                  "detail": result.detail}
    elif not result.ok:
        # A photo that is only too large stays in view: it can be reduced and sent.
        fields = {"status": REFUSED, "reason": result.reason or refusals.TYPE_NOT_ALLOWED,
                  "reducible": result.reducible, "as_card": not result.reducible}
    else:
        fields = {"status": READY, "mime": result.mime, "category": result.category,
                  "size": result.size, "typed": True, "verified": True,
                  "removed": list(result.removed),
                  "has_date": rec["has_date"] or "datetime" in result.removed,
                  "converted": result.converted, "preview_url": result.preview_url,
                  "holder": holder if result.held else ""}
        if result.converted:  # sent under its own name, as the JPEG it now is
            fields["name"] = with_extension(rec["name"], ".jpg")
    fields["waiting"] = False
    fields["imaging"] = False
    patch = {"attachments": _with_records(state, {key: fields})}
    if fields["status"] == READY and rec["status"] == CHECKING and len(state["attachments"]) == 1:
        patch.update(focus(state, "upload"))
    return patch


def keep_date_changed(state, key, keep):
    rec = model.record(state, key)
    if rec is None or state["sending"] or rec["status"] not in (READY, REFUSED, CHECKING):
        return {}
    return update_record(state, key, keep_date=bool(keep), status=CHECKING, verified=False)


def reduce_started(state, key):
    rec = model.record(state, key)
    if rec is None or not rec["reducible"] or state["sending"]:
        return {}
    return update_record(state, key, status=REDUCING, holder="",
                         imaging=state["workers"][model.HEAVY] != model.READY)


def reduced(state, key, result):
    """The worker's answer (worker_contract.Reduced) to "Minska storlek"."""
    rec = model.record(state, key)
    if rec is None or rec["status"] != REDUCING:
        return {}
    if not result.ok:
        return update_record(state, key, status=REFUSED, reason="reduce_failed",
                             reducible=False, as_card=True, imaging=False)
    patch = update_record(
        state, key, status=READY, verified=True, reason=None, reducible=False, size=result.size,
        holder=model.HEAVY, imaging=False,
        mime=result.mime, name=with_extension(rec["name"], ".jpg"),
        reduced=(result.width, result.height), removed=[])
    if len(state["attachments"]) == 1:
        patch.update(focus(state, "upload"))
    return patch


# --- sending -----------------------------------------------------------------------------------
def round_started(state):
    if state["sending"] or not model.to_send(state):
        return {}
    return {"sending": True}


def upload_waiting(state, key):
    """"Ladda upp" came before the worker's full check of this file: it waits, and says why."""
    rec = model.record(state, key)
    if rec is None or rec["status"] != READY or rec["verified"]:
        return {}
    return update_record(state, key, waiting=True)


def upload_started(state, key):
    return update_record(state, key, status=UPLOADING, progress=0, reconnecting=False,
                         waiting=False)


def upload_progress(state, key, sent, total):
    rec = model.record(state, key)
    if rec is None or rec["status"] != UPLOADING or total <= 0:
        return {}  # late progress never overwrites the outcome
    return update_record(state, key, progress=int(sent * 100 // total), reconnecting=False)


def upload_reconnecting(state, key, reconnecting=True):
    """The transfer lost its connection and tries again (True), or has it back (False)."""
    rec = model.record(state, key)
    if rec is None or rec["status"] != UPLOADING:
        return {}
    return update_record(state, key, reconnecting=reconnecting)


def uploaded(state, key, outcome):
    """The worker's outcome (worker_contract.Uploaded) of one upload and its finalisation."""
    rec = model.record(state, key)
    if rec is None or rec["status"] != UPLOADING:
        return {}
    if outcome.ok:
        patch = messages_arrived(state, [outcome.message])
        att_id = (outcome.message.get("attachment") or {}).get("id")
        patch["attachments"] = _with_records(state, {key: {"status": SENT, "progress": 100,
                                                           "attachment_id": att_id}})
        if att_id and outcome.local_url:  # the sender's chat shows the very bytes it sent
            urls = dict(state["object_urls"])
            urls[att_id] = {"url": outcome.local_url, "holder": rec["holder"], "key": key}
            patch["object_urls"] = urls
        return patch
    if outcome.error == "cancelled":
        return {}
    if outcome.error in refusals.ALL:
        reason = outcome.error
    elif outcome.error == VISIT_ENDED or outcome.status == 409:
        reason = VISIT_ENDED
    else:
        reason = UPLOAD_FAILED
    return update_record(state, key, status=FAILED, reason=reason, status_code=outcome.status)


def round_finished(state, sent_keys):
    """After the last file of a round: all sent closes the preview; otherwise the reasons stay
    in view and the dialog only closes."""
    patch = {"sending": False}
    names = [rec["name"] for rec in state["attachments"] if rec["key"] in sent_keys]
    if names:
        patch.update(say(t(state, "preview.sent", name=", ".join(names))))
    records = state["attachments"]
    if records and all(rec["status"] == SENT for rec in records):
        patch.update(attachments=[], dialog=None, preview_finished=False)
        patch.update(focus(state, "attach"))
    elif records:
        patch["preview_finished"] = True
        patch.update(focus(state, "preview_cancel"))
    return patch


def preview_closed(state):
    patch = {"attachments": [], "dialog": None, "sending": False, "preview_finished": False}
    patch.update(focus(state, "attach"))
    return patch


# --- ending the visit and filing ---------------------------------------------------------------
def filing_listed(state, listing):
    """The answer to "Avsluta besök" / "Spara bilagor": the reminder if files went, else the
    simple confirmation."""
    if listing["attachments"]:
        filing = {"attachments": [dict(a) for a in listing["attachments"]],
                  "ended": listing.get("state") == "ended", "confirming": False}
        return {"filing": filing, "dialog": REMINDER, "dialog_alert": ""}
    return {"dialog": CONFIRM_END, "dialog_alert": ""}


def filing_failed(state, status):
    return warn(state, t(state, "end.failed", detail=error_detail(state, status)))


def _with_mark(filing, attachment_id, mark):
    out = dict(filing)
    out["attachments"] = [dict(a, mark=mark) if a["id"] == attachment_id else a
                          for a in filing["attachments"]]
    return out


def marked(state, attachment_id, mark):
    """Counted at once (the end button must see it); flows save it and revert on failure."""
    if not state["filing"]:
        return {}
    return {"filing": _with_mark(state["filing"], attachment_id, mark)}


def mark_failed(state, attachment_id, previous, status):
    patch = {"dialog_alert": t(state, "reminder.mark_failed",
                               detail=error_detail(state, status))}
    if state["filing"]:
        patch["filing"] = _with_mark(state["filing"], attachment_id, previous)
    return patch


def end_pressed_in_reminder(state):
    """Unmarked files: ask once more ("Avsluta ändå"); otherwise end. Returns (patch, end)."""
    filing = state["filing"]
    if filing and model.unmarked(filing) and not filing["confirming"]:
        patch = {"filing": dict(filing, confirming=True)}
        patch.update(focus(state, "end_anyway"))
        return patch, False
    return {}, True


def ended(state, visit):
    patch = visit_changed(state, visit)
    patch.update(dialog=None, filing=None, dialog_alert="")
    patch.update(focus(state, "banner"))
    return patch


def end_failed(state, status):
    return {"dialog_alert": t(state, "end.failed", detail=error_detail(state, status))}


def dialog_back(state):
    patch = {"dialog": None, "filing": None, "dialog_alert": ""}
    patch.update(focus(state, "end_button" if model.is_open(state) else "reminder_button"))
    return patch


def zip_failed(state, status):
    return {"dialog_alert": t(state, "attachment.load_failed", name="zip") + " "
            + error_detail(state, status)}


# --- viewing -----------------------------------------------------------------------------------
def viewer_opened(state, att, url, opener=None):
    shown = model.images(state)
    ids = [a["id"] for a in shown]
    if att["id"] not in ids:
        return {}
    previous = state["viewer"] or {}
    return {"dialog": model.VIEWER, "viewer": {
        "id": att["id"], "url": url, "index": ids.index(att["id"]), "count": len(ids),
        "opener": opener if opener is not None else previous.get("opener")}}


def viewer_closed(state):
    viewer = state["viewer"]
    patch = {"viewer": None}
    if state["dialog"] == model.VIEWER:
        patch["dialog"] = None
    if viewer and viewer.get("opener"):
        patch.update(focus(state, "enlarge:" + viewer["opener"]))
    return patch


def url_kept(state, attachment_id, url):
    """An attachment fetched into memory: its object URL, shown until the visit ends."""
    urls = dict(state["object_urls"])
    urls[attachment_id] = {"url": url, "holder": "", "key": None}
    return {"object_urls": urls}


def load_failed(state, name, status=None):
    message = t(state, "attachment.load_failed", name=name)
    if status is not None:
        message += " " + error_detail(state, status)
    return warn(state, message)
