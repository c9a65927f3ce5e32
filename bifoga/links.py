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
