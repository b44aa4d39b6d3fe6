"use strict";
// A factor's value <-> its latents, as train/evaluation/readout.py fits them (explorer.json holds
// each factor's readout): a least-squares line, or for a turn carried by two or more latents a
// closed loop through the mean training code of each grid value. Pure functions: the page loads
// this file before app.js; the tests run it in Node against the Python readout.

function isLoop(readout) { return "knots" in readout; }

// the loop's steps: from knot i to the next one round the loop, and the values each step spans
function loopSteps(r) {
  const n = r.values.length;
  return r.values.map((v, i) => ({
    start: r.knots[i],
    step: r.knots[(i + 1) % n].map((x, k) => x - r.knots[i][k]),
    from: v,
    span: (i + 1 < n ? r.values[i + 1] : r.values[0] + r.period) - v,
  }));
}

function wrap(value, period) { return ((value % period) + period) % period; }

// value -> the factor's latent values
function codeFor(readout, value) {
  const r = readout;
  if (isLoop(r)) {
    const v = wrap(value, r.period);
    let i = r.values.length - 1;  // before the first knot: on the last step, across 0
    while (i > 0 && r.values[i] > v) i--;
    if (r.values[i] > v) i = r.values.length - 1;
    const s = loopSteps(r)[i];
    const t = (v >= s.from ? v - s.from : v + r.period - s.from) / s.span;
    return s.start.map((x, k) => x + t * s.step[k]);
  }
  return r.latents.map((_, k) => value * r.to_code[0][k] + r.to_code[1][k]);
}

// encoder means -> the factor's value: the line, or the value of the loop's nearest point
function valueOf(readout, mu) {
  const r = readout;
  const z = r.latents.map((l) => mu[l]);
  if (isLoop(r)) {
    let best = Infinity;
    let value = 0;
    for (const s of loopSteps(r)) {
      const length = s.step.reduce((a, d) => a + d * d, 0);
      const along = z.reduce((a, x, k) => a + (x - s.start[k]) * s.step[k], 0) / Math.max(length, 1e-300);
      const t = Math.min(1, Math.max(0, along));
      const dist = z.reduce((a, x, k) => a + (x - s.start[k] - t * s.step[k]) ** 2, 0);
      if (dist < best) { best = dist; value = s.from + t * s.span; }
    }
    return wrap(value, r.period);
  }
  return z.reduce((a, x, i) => a + x * r.to_value[i][0], r.to_value[z.length][0]);
}

if (typeof module !== "undefined") module.exports = { codeFor, valueOf, isLoop };
