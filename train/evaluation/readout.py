"""How a model's latents for one factor map to the factor's value and back, fitted by least squares
on training codes.

A factor on a line (face azimuth, elevation, light) is read from its latents by a linear fit, and
set from a value by the line z = a * value + b per latent. A circular factor (a chair's azimuth
over the full turn) cannot be monotone in one latent: 0 and 360 degrees are the same view. With
two or more latents it is read as the angle of the point (cos, sin) that a linear fit predicts
from the latents, and set by the latents a linear fit predicts from (cos, sin): a circle in latent
space. Errors of a circular factor are taken around the circle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERIOD = {"rad": 2 * np.pi, "deg": 360.0}  # a full turn in each unit
DEGREES = {"rad": 180 / np.pi, "deg": 1.0}  # one unit in degrees: errors are reported in degrees


def _design(columns: np.ndarray) -> np.ndarray:
    """Columns plus a constant one, for a fit with an intercept."""
    return np.column_stack([columns, np.ones(len(columns))])


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(x, y, rcond=None)[0]


@dataclass(frozen=True)
class Readout:
    latents: tuple  # the factor's latent indices
    period: float  # a full turn in the factor's unit; 0 for a factor on a line
    to_value: np.ndarray  # (k + 1, m): [z, 1] -> value (m = 1) or [cos, sin] (m = 2)
    to_code: np.ndarray  # (m + 1, k): [value, 1] or [cos, sin, 1] -> z

    @property
    def circular(self) -> bool:
        return self.period > 0

    @property
    def on_circle(self) -> bool:
        """Read as an angle in a plane of latents (circular with two or more latents)."""
        return self.circular and len(self.latents) >= 2

    @classmethod
    def fit(cls, mu: np.ndarray, values: np.ndarray, latents, unit: str, circular: bool) -> Readout:
        """Fit on encoder means `mu` (N, L) of images whose factor has `values` (N,)."""
        latents = tuple(int(k) for k in latents)
        z, v = mu[:, latents].astype(np.float64), np.asarray(values, dtype=np.float64)
        period = PERIOD[unit] if circular else 0.0
        target = cls._target(v, period, len(latents))
        return cls(latents, period, _lstsq(_design(z), target), _lstsq(_design(target), z))

    @staticmethod
    def _target(values: np.ndarray, period: float, k: int) -> np.ndarray:
        if period and k >= 2:
            angle = 2 * np.pi * values / period
            return np.column_stack([np.cos(angle), np.sin(angle)])
        return values[:, None]

    def values(self, mu: np.ndarray) -> np.ndarray:
        """The factor's value read from encoder means (N, L)."""
        out = _design(mu[:, self.latents].astype(np.float64)) @ self.to_value
        if self.on_circle:
            return np.mod(np.arctan2(out[:, 1], out[:, 0]) * self.period / (2 * np.pi), self.period)
        return out[:, 0]

    def codes(self, values) -> np.ndarray:
        """(N, k) latent values that stand for the factor's `values` (N,)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        return _design(self._target(v, self.period, len(self.latents))) @ self.to_code

    def errors(self, mu: np.ndarray, values) -> np.ndarray:
        """|read value - true value|, around the circle for a circular factor."""
        d = np.abs(self.values(mu) - np.asarray(values, dtype=np.float64))
        if not self.circular:
            return d
        d = np.mod(d, self.period)
        return np.minimum(d, self.period - d)

    def as_dict(self) -> dict:
        return {"latents": list(self.latents), "period": self.period,
                "to_value": self.to_value.tolist(), "to_code": self.to_code.tolist()}

    @classmethod
    def from_dict(cls, entry: dict) -> Readout:
        return cls(tuple(entry["latents"]), float(entry["period"]),
                   np.asarray(entry["to_value"], dtype=np.float64), np.asarray(entry["to_code"], dtype=np.float64))


def median_error_deg(read: Readout, mu: np.ndarray, values, unit: str) -> float:
    """The median error of the values `read` gives for encoder means `mu`, in degrees."""
    return float(np.median(read.errors(mu, values)) * DEGREES[unit])
