"""The text catalogue: every user-visible string, in Swedish (default) and English.

Plain dicts and str.format so that it runs under MicroPython on the browser's main thread too.
Components never hold literal text; they ask `text(lang, key, **values)`.
"""

DEFAULT_LANG = "sv"

CATALOGUE = {
    "sv": {
        "app.title": "Bifoga",
        "app.loading": "Startar…",
        "app.bad_link": "Länken till besöket saknas eller är ogiltig. Öppna den länk du fått från vården.",
        "app.load_failed": "Besöket kunde inte hämtas ({detail}). Försök igen om en stund.",
        "visit.heading": "Besök med {name}",
        "visit.role.patient": "Du är patient",
        "visit.role.clinician": "Du är vårdpersonal",
        "visit.ended": "Besöket är avslutat.",
        "chat.label": "Chattmeddelanden",
        "chat.empty": "Inga meddelanden ännu.",
        "chat.you": "Du",
        "chat.sent_by": "{name}, {time}",
        "chat.connection_lost": "Anslutningen bröts. Försöker igen…",
        "composer.label": "Skriv ett meddelande",
        "composer.placeholder": "Skriv ett meddelande…",
        "composer.send": "Skicka",
        "composer.send_failed": "Meddelandet kunde inte skickas ({detail}). Försök igen.",
        "picker.attach": "Bifoga fil",
        "picker.limits": "Bilder, filmer och dokument, högst {max}. Ljudfiler kan inte skickas.",
        "preview.title": "Förhandsgranska",
        "preview.upload": "Ladda upp",
        "preview.cancel": "Avbryt",
        "preview.close": "Stäng",
        "preview.checking": "Kontrollerar filen…",
        "preview.ready": "{name} är klar att skickas.",
        "preview.file_info": "{kind} · {size}",
        "preview.uploading": "Laddar upp {name}: {percent} %",
        "preview.progress_label": "Uppladdning",
        "preview.sent": "{name} skickad.",
        "preview.reconnecting": "Återansluter…",
        "kind.image": "Bild",
        "kind.video": "Film",
        "kind.document": "Dokument",
        "kind.unknown": "Fil",
        "refusal.too_large": "{name} är {size}, större än {max}. Välj en mindre fil.",
        "refusal.audio": "{name} är en ljudfil. Ljudfiler kan inte skickas.",
        "refusal.type_not_allowed": "{name} är en filtyp som inte kan skickas. Skicka en bild (JPEG, PNG, GIF, WebP, HEIC), en film (MP4, WebM, MOV) eller ett dokument (PDF, Office, OpenDocument, text).",
        "refusal.empty": "{name} är tom. Välj en annan fil.",
        "refusal.check_failed": "{name} kunde inte kontrolleras ({detail}). Försök igen.",
        "upload.failed": "{name} kunde inte skickas ({detail}). Försök igen.",
        "upload.visit_ended": "Besöket är avslutat. Filer kan inte längre skickas.",
        "attachment.download": "Ladda ner",
        "attachment.download_named": "Ladda ner {name}",
        "attachment.enlarge": "Förstora bild: {name}",
        "attachment.image_alt": "{name}, skickad av {sender} {time}",
        "attachment.loading": "Hämtar {name}…",
        "attachment.load_failed": "{name} kunde inte hämtas.",
        "viewer.title": "Bild: {name}",
        "viewer.close": "Stäng",
        "error.network": "nätverksfel",
        "error.status": "fel {status}",
        "unit.byte": "{n} byte",
        "unit.kb": "{n} kB",
        "unit.mb": "{n} MB",
    },
    "en": {
        "app.title": "Bifoga",
        "app.loading": "Starting…",
        "app.bad_link": "The visit link is missing or not valid. Open the link you got from your care provider.",
        "app.load_failed": "The visit could not be loaded ({detail}). Try again in a moment.",
        "visit.heading": "Visit with {name}",
        "visit.role.patient": "You are the patient",
        "visit.role.clinician": "You are the clinician",
        "visit.ended": "The visit has ended.",
        "chat.label": "Chat messages",
        "chat.empty": "No messages yet.",
        "chat.you": "You",
        "chat.sent_by": "{name}, {time}",
        "chat.connection_lost": "The connection was lost. Trying again…",
        "composer.label": "Write a message",
        "composer.placeholder": "Write a message…",
        "composer.send": "Send",
        "composer.send_failed": "The message could not be sent ({detail}). Try again.",
        "picker.attach": "Attach file",
        "picker.limits": "Images, films and documents, at most {max}. Audio files cannot be sent.",
        "preview.title": "Preview",
        "preview.upload": "Upload",
        "preview.cancel": "Cancel",
        "preview.close": "Close",
        "preview.checking": "Checking the file…",
        "preview.ready": "{name} is ready to send.",
        "preview.file_info": "{kind} · {size}",
        "preview.uploading": "Uploading {name}: {percent} %",
        "preview.progress_label": "Upload",
        "preview.sent": "{name} sent.",
        "preview.reconnecting": "Reconnecting…",
        "kind.image": "Image",
        "kind.video": "Film",
        "kind.document": "Document",
        "kind.unknown": "File",
        "refusal.too_large": "{name} is {size}, larger than {max}. Choose a smaller file.",
        "refusal.audio": "{name} is an audio file. Audio files cannot be sent.",
        "refusal.type_not_allowed": "{name} is a file type that cannot be sent. Send an image (JPEG, PNG, GIF, WebP, HEIC), a film (MP4, WebM, MOV) or a document (PDF, Office, OpenDocument, text).",
        "refusal.empty": "{name} is empty. Choose another file.",
        "refusal.check_failed": "{name} could not be checked ({detail}). Try again.",
        "upload.failed": "{name} could not be sent ({detail}). Try again.",
        "upload.visit_ended": "The visit has ended. Files can no longer be sent.",
        "attachment.download": "Download",
        "attachment.download_named": "Download {name}",
        "attachment.enlarge": "Enlarge image: {name}",
        "attachment.image_alt": "{name}, sent by {sender} {time}",
        "attachment.loading": "Fetching {name}…",
        "attachment.load_failed": "{name} could not be fetched.",
        "viewer.title": "Image: {name}",
        "viewer.close": "Close",
        "error.network": "network error",
        "error.status": "error {status}",
        "unit.byte": "{n} bytes",
        "unit.kb": "{n} kB",
        "unit.mb": "{n} MB",
    },
}


def pick_lang(requested):
    """The UI language from ?lang=…; anything unknown falls back to Swedish."""
    if requested:
        code = str(requested).strip().lower()[:2]
        if code in CATALOGUE:
            return code
    return DEFAULT_LANG


def text(lang, key, **values):
    table = CATALOGUE.get(lang) or CATALOGUE[DEFAULT_LANG]
    template = table.get(key)
    if template is None:
        template = CATALOGUE[DEFAULT_LANG][key]  # a missing key is a bug: KeyError in tests
    return template.format(**values) if values else template
