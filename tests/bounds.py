"""How long work that must end may take in a test.

The bound catches a runaway parse (endless, or quadratic in a hostile input), never speed: these
machines are shared and noisy, and speed is measured by `make bench` as ratios. A healthy run of
these inputs takes milliseconds; a runaway one takes minutes.
"""

RUNAWAY_SECONDS = 15.0
