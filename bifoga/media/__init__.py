"""The media checks that the browser, its workers and the server share: signature sniffing
(sniff, sniff_head, containers, isobmff, inflate, active), the metadata removal (metadata and
its parsers), the limits and the refusal codes.

Runs under MicroPython (the light worker; the main thread imports sniff_head, limits and
refusals), Pyodide (the heavy worker) and CPython (the server, the tests). No `js`, no
`pyscript`. Some modules are CPython only (Pyodide included), never imported under
MicroPython: active_patterns (re with look-ahead), meta_location (the server's position check),
imaging (Pillow), heif_boxes and heif_meta (HEIF goes to the heavy worker).
"""
