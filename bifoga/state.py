"""One store for the app's state, changed with small patches. Pure: runs under MicroPython too."""


class Store:
    """Holds a flat dict; `patch` changes some keys and tells the subscribers of those keys."""

    def __init__(self, initial):
        self._state = dict(initial)
        self._subscribers = []  # (keys or None, callback)

    def get(self, key, default=None):
        return self._state.get(key, default)

    def snapshot(self):
        return dict(self._state)

    def subscribe(self, callback, keys=None):
        entry = (tuple(keys) if keys else None, callback)
        self._subscribers.append(entry)
        return entry

    def patch(self, **changes):
        changed = [k for k, v in changes.items() if self._state.get(k, _MISSING) is not v
                   and self._state.get(k, _MISSING) != v]
        if not changed:
            return []
        for k in changed:
            self._state[k] = changes[k]
        for keys, callback in list(self._subscribers):
            if keys is None or any(k in keys for k in changed):
                callback(self._state, changed)
        return changed


_MISSING = object()
