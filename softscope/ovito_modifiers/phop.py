"""``PhopModifier``: p_hop (Candelier et al.) of finite-temperature trajectories."""

from __future__ import annotations

import numpy as np
from ovito.pipeline import ModifierInterface
from traits.api import Bool, Range, Str

from softscope.errors import SoftscopeError
from softscope.ovito_modifiers._adapt import frame_from_data, in_frame_order, set_property

__all__ = ["PhopModifier"]


class PhopModifier(ModifierInterface):
    """p_hop(i, t) = sqrt(⟨(r_i − ⟨r_i⟩_B)²⟩_A · ⟨(r_i − ⟨r_i⟩_A)²⟩_B), length².

    A = frames [t − window/2, t], B = [t, t + window/2] (both include t), exactly
    :func:`softscope.rearrangement.phop` on the upstream frames (equal time spacing
    assumed; positions unwrapped by the minimum image between consecutive frames
    unless ``unwrap`` is off). Writes the particle property ``p_hop``; frames closer
    than window/2 to either end of the trajectory have no full window: ``p_hop`` is NaN
    there and the attribute ``p_hop.defined`` is 0.
    """

    window = Range(2, 100_000, 10, label="Window t_R (frames, even)")
    unwrap = Bool(True, label="Unwrap positions across periodic boundaries")
    elements = Str("", label="Type -> element (optional; p_hop ignores species)")

    def _span(self, frame: int, n_frames: int) -> range | None:
        h = int(self.window) // 2
        if frame - h < 0 or frame + h >= n_frames:
            return None
        return range(frame - h, frame + h + 1)

    def input_caching_hints(self, frame: int, *, input_slots=None, **kwargs):
        n = input_slots["upstream"].num_frames if input_slots else frame + 1
        span = self._span(frame, n)
        return list(span) if span is not None else [frame]

    def modify(self, data, *, frame: int, input_slots, **kwargs) -> None:
        from softscope.rearrangement import phop

        if int(self.window) % 2:
            raise SoftscopeError(
                f"PhopModifier: window must be an even number of frames, got {self.window}"
            )
        upstream = input_slots["upstream"]
        span = self._span(frame, upstream.num_frames)
        data.attributes["p_hop.window"] = int(self.window)
        if span is None:
            set_property(data, "p_hop", np.full(data.particles.count, np.nan))
            data.attributes["p_hop.defined"] = 0
            return
        current = frame_from_data(data, self.elements, species_free=True)
        frames = [
            current if k == frame else frame_from_data(upstream.compute(k), self.elements, True)
            for k in span
        ]
        _, values = phop(frames, int(self.window), unwrap=bool(self.unwrap))
        set_property(data, "p_hop", in_frame_order(current.ids, frames[0].ids, values[0]))
        data.attributes["p_hop.defined"] = 1
