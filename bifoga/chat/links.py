"""Visit links: `#visit=<id>&token=<token>` in the URL fragment, kept out of server logs."""


def _unquote(value):
    # Tokens and ids are URL-safe base64; only '%xx' escapes need undoing (MicroPython has no
    # urllib).
    out = bytearray()
    i = 0
    raw = value.encode()
    while i < len(raw):
        c = raw[i]
        if c == 37 and i + 2 < len(raw):  # '%xx'
            try:
                out.append(int(raw[i + 1:i + 3].decode(), 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(c)
        i += 1
    return out.decode()


def parse_params(part):
    """'a=1&b=2' (with or without a leading '#' or '?') -> {'a': '1', 'b': '2'}."""
    part = part or ""
    if part[:1] in ("#", "?"):
        part = part[1:]
    params = {}
    for pair in part.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        params[_unquote(key)] = _unquote(value.replace("+", " "))
    return params


def visit_from_fragment(fragment):
    """(visit_id, token) from the link's fragment, or (None, None) when it has none."""
    params = parse_params(fragment)
    visit_id, token = params.get("visit"), params.get("token")
    if not visit_id or not token:
        return None, None
    return visit_id, token


def visit_for_tab(fragment, remembered):
    """Which visit this tab shows, and what the tab keeps for a reload.

    The link's token must not stay in the address bar or the browser history of a shared
    computer, so the app takes it out of the URL once read and keeps it in this tab's
    sessionStorage only (`remembered`: what the tab kept before, or None). A link in the address
    bar wins over what the tab kept. Returns (visit_id, token, to_remember); to_remember is the
    'visit=…&token=…' text to keep, or None when there is no visit.
    """
    visit_id, token = visit_from_fragment(fragment)
    if visit_id is None:
        visit_id, token = visit_from_fragment(remembered or "")
    if visit_id is None:
        return None, None, None
    return visit_id, token, "visit=" + _quote(visit_id) + "&token=" + _quote(token)


def _quote(value):
    # The inverse of _unquote for the characters that would break 'a=1&b=2' apart.
    return value.replace("%", "%25").replace("&", "%26").replace("=", "%3D").replace("#", "%23")
