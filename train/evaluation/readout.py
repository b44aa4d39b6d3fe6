"""How a model's latents for one factor map to the factor's value and back, fitted on training codes.

A factor on a line (face azimuth, elevation, light) is read from its latents by a least-squares
line, and set from a value by the line z = a * value + b per latent. A circular factor (a chair's
azimuth over the full turn) cannot be monotone in one latent: 0 and 360 degrees are the same view.
With two or more latents it is a closed loop: the mean training code at each value of the factor's
grid, joined in the order of the values and back to the first. A code is read as the value of its
nearest point on the loop, and a value is set by the point of the loop at that value. A learned
turn is such a loop, but not a circle round one centre (measured on the chairs: some views bunch
and the back view comes close to the middle), so a fitted circle misreads it and, set by angle,
leaves the codes the decoder was trained on. Errors of a circular factor are taken around the circle.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

PERIOD = {"rad": 2 * np.pi, "deg": 360.0}  # a full turn in each unit
DEGREES = {"rad": 180 / np.pi, "deg": 1.0}  # one unit in degrees: errors are reported in degrees


def _design(columns: np.ndarray) -> np.ndarray:
    """Columns plus a constant one, for a fit with an intercept."""
    return np.column_stack([columns, np.ones(len(columns))])


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(x, y, rcond=None)[0]


class Readout(ABC):
    """A factor's latents and the maps between its value and them: a `LineReadout` or a `LoopReadout`."""

    latents: tuple  # the factor's latent indices
    period: float  # a full turn in the factor's unit; 0 for a factor on a line

    @property
    def circular(self) -> bool:
        return self.period > 0

    @property
    def on_circle(self) -> bool:
        """Read around a loop in a plane (or space) of latents: circular with two or more latents."""
        return self.circular and len(self.latents) >= 2

    @staticmethod
    def fit(mu: np.ndarray, values: np.ndarray, latents, unit: str, circular: bool) -> Readout:
        """Fit on encoder means `mu` (N, L) of images whose factor has `values` (N,)."""
        latents = tuple(int(k) for k in latents)
        z, v = mu[:, latents].astype(np.float64), np.asarray(values, dtype=np.float64)
        period = PERIOD[unit] if circular else 0.0
        if period and len(latents) >= 2:
            return LoopReadout.from_codes(latents, period, z, v)
        return LineReadout(latents, period, _lstsq(_design(z), v[:, None]), _lstsq(_design(v[:, None]), z))

    @staticmethod
    def from_dict(entry: dict) -> Readout:
        latents, period = tuple(entry["latents"]), float(entry["period"])
        if "knots" in entry:
            return LoopReadout(latents, period, np.asarray(entry["values"], dtype=np.float64),
                               np.asarray(entry["knots"], dtype=np.float64))
        return LineReadout(latents, period, np.asarray(entry["to_value"], dtype=np.float64),
                           np.asarray(entry["to_code"], dtype=np.float64))

    @abstractmethod
    def values(self, mu: np.ndarray) -> np.ndarray:
        """The factor's value read from encoder means (N, L)."""

    @abstractmethod
    def codes(self, values) -> np.ndarray:
        """(N, k) latent values that stand for the factor's `values` (N,)."""

    @abstractmethod
    def varies(self) -> bool:
        """Whether setting the factor changes the code at all."""

    def errors(self, mu: np.ndarray, values) -> np.ndarray:
        """|read value - true value|, around the circle for a circular factor."""
        d = np.abs(self.values(mu) - np.asarray(values, dtype=np.float64))
        if not self.circular:
            return d
        d = np.mod(d, self.period)
        return np.minimum(d, self.period - d)


@dataclass(frozen=True)
class LineReadout(Readout):
    """Least-squares lines: value from the latents, and each latent from the value. A circular
    factor with a single latent is read this way too (its errors still wrap)."""

    latents: tuple
    period: float
    to_value: np.ndarray  # (k + 1, 1): [z, 1] -> value
    to_code: np.ndarray  # (2, k): [value, 1] -> z

    def values(self, mu: np.ndarray) -> np.ndarray:
        return (_design(mu[:, self.latents].astype(np.float64)) @ self.to_value)[:, 0]

    def codes(self, values) -> np.ndarray:
        return _design(np.asarray(values, dtype=np.float64).reshape(-1, 1)) @ self.to_code

    def varies(self) -> bool:
        return bool(np.any(self.to_code[:-1]))

    def as_dict(self) -> dict:
        return {"latents": list(self.latents), "period": self.period,
                "to_value": self.to_value.tolist(), "to_code": self.to_code.tolist()}


@dataclass(frozen=True)
class LoopReadout(Readout):
    """A closed polyline through the mean code at each grid value, in the order of the values."""

    latents: tuple
    period: float
    grid: np.ndarray  # (n,) the knots' values, ascending within [0, period)
    knots: np.ndarray  # (n, k) the mean training code at each value

    @classmethod
    def from_codes(cls, latents: tuple, period: float, z: np.ndarray, values: np.ndarray) -> LoopReadout:
        """The loop through the mean of the codes `z` (N, k) at each distinct value of `values`."""
        v = np.mod(values, period)
        grid = np.unique(v)
        return cls(latents, period, grid, np.stack([z[v == g].mean(axis=0) for g in grid]))

    def _segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each knot, the step to the next one round the loop, and the values the step spans."""
        ends = np.append(self.grid[1:], self.grid[0] + self.period)
        return self.knots, np.roll(self.knots, -1, axis=0) - self.knots, ends - self.grid

    def values(self, mu: np.ndarray) -> np.ndarray:
        z = mu[:, self.latents].astype(np.float64)
        start, step, span = self._segments()
        length = np.maximum((step ** 2).sum(axis=1), 1e-300)
        t = np.clip(np.einsum("nsk,sk->ns", z[:, None] - start[None], step) / length, 0.0, 1.0)
        nearest = ((z[:, None] - start[None] - t[..., None] * step[None]) ** 2).sum(axis=2).argmin(axis=1)
        rows = np.arange(len(z))
        return np.mod(self.grid[nearest] + t[rows, nearest] * span[nearest], self.period)

    def codes(self, values) -> np.ndarray:
        v = np.mod(np.asarray(values, dtype=np.float64).reshape(-1), self.period)
        start, step, span = self._segments()
        k = np.searchsorted(self.grid, v, side="right") - 1  # -1: before the first knot, on the last step
        offset = np.where(k < 0, v + self.period, v) - self.grid[k]
        return start[k] + (offset / span[k])[:, None] * step[k]

    def varies(self) -> bool:
        return len(self.knots) > 1 and bool(np.any(np.ptp(self.knots, axis=0)))

    def as_dict(self) -> dict:
        return {"latents": list(self.latents), "period": self.period,
                "values": self.grid.tolist(), "knots": self.knots.tolist()}


def median_error_deg(read: Readout, mu: np.ndarray, values, unit: str) -> float:
    """The median error of the values `read` gives for encoder means `mu`, in degrees."""
    return float(np.median(read.errors(mu, values)) * DEGREES[unit])
