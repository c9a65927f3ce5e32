"""Zoom, pan and rotation of the image viewer, as plain numbers. Runs under MicroPython.

The view is a transform of the image inside its stage: `translate(x, y) rotate(r) scale(s)`,
with the image centred and fitted at scale 1.
"""

MIN_SCALE = 1.0
MAX_SCALE = 8.0
ZOOM_STEP = 1.25
PAN_STEP = 60  # CSS pixels per arrow key press


def clamp(value, low, high):
    return low if value < low else high if value > high else value


class View:
    def __init__(self):
        self.reset()

    def reset(self):
        self.scale = 1.0
        self.x = 0.0
        self.y = 0.0
        self.rotation = 0

    @property
    def zoomed(self):
        return self.scale > 1.0001

    def zoom(self, factor, cx=0.0, cy=0.0, stage_w=0.0, stage_h=0.0):
        """Zoom by `factor` about the point (cx, cy), given relative to the stage's centre."""
        new_scale = clamp(self.scale * factor, MIN_SCALE, MAX_SCALE)
        applied = new_scale / self.scale
        # Keep the point under the cursor (or fingers) where it is.
        self.x = cx - (cx - self.x) * applied
        self.y = cy - (cy - self.y) * applied
        self.scale = new_scale
        self.clamp_pan(stage_w, stage_h)

    def zoom_in(self, stage_w=0.0, stage_h=0.0):
        self.zoom(ZOOM_STEP, 0.0, 0.0, stage_w, stage_h)

    def zoom_out(self, stage_w=0.0, stage_h=0.0):
        self.zoom(1 / ZOOM_STEP, 0.0, 0.0, stage_w, stage_h)

    def pan(self, dx, dy, stage_w=0.0, stage_h=0.0):
        self.x += dx
        self.y += dy
        self.clamp_pan(stage_w, stage_h)

    def clamp_pan(self, stage_w, stage_h):
        """The image may move at most as far as its zoomed size exceeds the stage."""
        if not self.zoomed:
            self.x = self.y = 0.0
            return
        if stage_w and stage_h:
            limit_x = stage_w * (self.scale - 1) / 2
            limit_y = stage_h * (self.scale - 1) / 2
            self.x = clamp(self.x, -limit_x, limit_x)
            self.y = clamp(self.y, -limit_y, limit_y)

    def rotate(self):
        self.rotation = (self.rotation + 90) % 360

    def css(self):
        return "translate({:.1f}px, {:.1f}px) rotate({}deg) scale({:.4f})".format(
            self.x, self.y, self.rotation, self.scale)

    def percent(self):
        return int(self.scale * 100 + 0.5)


def pinch_factor(start_distance, distance):
    """The zoom factor of a two-finger pinch since the last move."""
    if start_distance <= 0:
        return 1.0
    return distance / start_distance


def step_index(index, delta, count):
    """Previous/next image, stopping at the ends rather than wrapping (less disorienting)."""
    if count <= 0:
        return None
    return clamp(index + delta, 0, count - 1)
