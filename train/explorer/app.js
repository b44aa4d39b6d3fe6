"use strict";
// The explorer: the model's encoder and decoder run in the page (onnxruntime-web, WebAssembly).
// explorer.json says, per factor, which latents carry it and the evaluation's maps between the
// factor's value and those latents (readout.js, as train/evaluation/readout.py fits them): a slider
// sets a value, the map turns it into latent values, the decoder renders the code.

const SIZE = 150;
const state = { info: null, encoder: null, decoder: null, mu: null, identity: null, values: null,
                z: null, output: null, busy: null, again: false, sliders: {} };

function status(text) { document.getElementById("status").textContent = text; }

function range(entry) {
  return entry.readout.period > 0 ? [0, entry.readout.period] : entry.range;
}

function label(entry, value) {
  if (entry.unit === "rad") return `${value >= 0 ? "+" : ""}${value.toFixed(2)} rad (${(value * 180 / Math.PI).toFixed(0)}°)`;
  return `${value >= 0 ? "+" : ""}${value.toFixed(0)}°`;
}

function draw(canvas, gray) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(Math.min(1, Math.max(0, gray[i])) * 255);
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function blank(canvas, text) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#f4f4f4";
  ctx.fillRect(0, 0, SIZE, SIZE);
  ctx.fillStyle = "#888";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "center";
  text.split("\n").forEach((line, i) => ctx.fillText(line, SIZE / 2, SIZE / 2 + 14 * i));
}

// an image element -> 150 x 150 grayscale in [0, 1] as the renders: centre square, on white
function grayOf(img) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = SIZE;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, SIZE, SIZE);
  const side = Math.min(img.naturalWidth, img.naturalHeight);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(img, (img.naturalWidth - side) / 2, (img.naturalHeight - side) / 2, side, side, 0, 0, SIZE, SIZE);
  const data = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const gray = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < gray.length; i++) {
    gray[i] = (0.21 * data[4 * i] + 0.72 * data[4 * i + 1] + 0.07 * data[4 * i + 2]) / 255;
  }
  return gray;
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot load ${src}`));
    img.src = src;
  });
}

async function encode(gray) {
  const out = await state.encoder.run({ input: new ort.Tensor("float32", gray, [1, 1, SIZE, SIZE]) });
  return Float32Array.from(out.output.data);
}

async function decode(z) {
  const out = await state.decoder.run({ input: new ort.Tensor("float32", z, [1, z.length]) });
  return Float32Array.from(out.output.data);
}

// the test image of this identity at the sliders' values (and the input's other labels), if any
function truthAt(values) {
  if (state.identity === null) return null;
  const factors = state.info.factors;
  return state.info.images.find((im) => im.identity === state.identity
    && Object.keys(factors).every((t) => {
      const entry = factors[t];
      const step = entry.grid.length > 1 ? Math.abs(entry.grid[1] - entry.grid[0]) : 1;
      let d = Math.abs(im.values[t] - values[t]);
      if (entry.readout.period > 0) d = Math.min(d % entry.readout.period, entry.readout.period - (d % entry.readout.period));
      return d < step / 2;
    })
    && Object.keys(im.values).filter((k) => !(k in factors)).every((k) => im.values[k] === state.values[k]));
}

async function renderNow() {
  const factors = state.info.factors;
  const z = Float32Array.from(state.mu);
  const values = {};
  for (const [t, entry] of Object.entries(factors)) {
    values[t] = Number(state.sliders[t].input.value);
    state.sliders[t].shown.textContent = label(entry, values[t]);
    codeFor(entry.readout, values[t]).forEach((c, k) => { z[entry.readout.latents[k]] = c; });
  }
  const output = await decode(z);
  state.z = z;
  state.output = output;
  draw(document.getElementById("output"), output);
  const truth = truthAt(values);
  const caption = document.getElementById("truth-caption");
  if (truth) {
    const img = await loadImage(truth.file);
    draw(document.getElementById("truth"), grayOf(img));
    caption.textContent = "ground truth (test render)";
  } else {
    blank(document.getElementById("truth"), state.identity === null ? "no ground truth\nfor your own image"
                                                                    : "no test render\nat this pose");
    caption.textContent = "ground truth";
  }
}

// one render at a time; a slider moved meanwhile renders once more with the latest values
function render() {
  if (state.busy) { state.again = true; return state.busy; }
  state.busy = (async () => {
    do { state.again = false; await renderNow(); } while (state.again);
    state.busy = null;
  })();
  return state.busy;
}

async function choose(gray, identity, values) {
  draw(document.getElementById("input"), gray);
  state.mu = await encode(gray);
  state.identity = identity;
  state.values = values || {};
  const read = [];
  for (const [t, entry] of Object.entries(state.info.factors)) {
    const [lo, hi] = range(entry);
    const v = Math.min(hi, Math.max(lo, valueOf(entry.readout, state.mu)));
    state.sliders[t].input.value = String(v);
    read.push(`${t} ${label(entry, v)}`);
  }
  document.getElementById("read").textContent = `The model reads from the input: ${read.join(", ")}` +
    (values ? ` (true: ${Object.keys(state.info.factors).map((t) => label(state.info.factors[t], values[t])).join(", ")})` : "");
  await render();
}

function buildSliders() {
  const box = document.getElementById("sliders");
  for (const [t, entry] of Object.entries(state.info.factors)) {
    const [lo, hi] = range(entry);
    const name = document.createElement("label");
    name.textContent = `${t} (${entry.unit})`;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: lo, max: hi, step: (hi - lo) / 300, value: (lo + hi) / 2, id: `slider-${t}` });
    const shown = document.createElement("span");
    input.addEventListener("input", () => render());
    box.append(name, input, shown);
    state.sliders[t] = { input, shown };
  }
}

function buildGallery() {
  const gallery = document.getElementById("gallery");
  const seen = new Set();
  for (const im of state.info.images) {
    if (seen.has(im.identity) || im.batch_type === "intrinsic") continue;
    seen.add(im.identity);
    const thumb = document.createElement("img");
    thumb.src = im.file;
    thumb.title = `identity ${im.identity}`;
    thumb.addEventListener("click", async () => {
      document.querySelectorAll("#gallery img").forEach((x) => x.classList.remove("chosen"));
      thumb.classList.add("chosen");
      await choose(grayOf(await loadImage(im.file)), im.identity, im.values);
    });
    gallery.append(thumb);
  }
}

function setupDrop() {
  const drop = document.getElementById("drop");
  const use = async (file) => {
    const url = URL.createObjectURL(file);
    document.querySelectorAll("#gallery img").forEach((x) => x.classList.remove("chosen"));
    await choose(grayOf(await loadImage(url)), null, null);
    URL.revokeObjectURL(url);
  };
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) use(e.dataTransfer.files[0]);
  });
  document.getElementById("file").addEventListener("change", (e) => { if (e.target.files.length) use(e.target.files[0]); });
}

// ?test: pick the first test image, move the first slider, and leave what was drawn in the page
async function selfTest() {
  const canvas = document.getElementById("output");
  const pixels = () => Array.from(canvas.getContext("2d").getImageData(0, 0, SIZE, SIZE).data.filter((_, i) => i % 4 === 0));
  const before = pixels();
  const [t, entry] = Object.entries(state.info.factors)[0];
  const [lo, hi] = range(entry);
  const input = state.sliders[t].input;
  input.value = String(lo + 0.85 * (hi - lo));
  input.dispatchEvent(new Event("input"));
  await state.busy;
  const sliders = Object.fromEntries(Object.entries(state.sliders).map(([k, v]) => [k, Number(v.input.value)]));
  const result = { factor: t, value: Number(input.value), sliders, z: Array.from(state.z), output: Array.from(state.output),
                   before, after: pixels(), truth: document.getElementById("truth-caption").textContent };
  const out = document.getElementById("test-result");
  out.textContent = JSON.stringify(result);
  out.dataset.done = "1";
}

async function main() {
  ort.env.wasm.numThreads = 1;  // a plain file server gives no cross-origin isolation for threads
  ort.env.wasm.wasmPaths = "./";
  state.info = await (await fetch("explorer.json")).json();
  const info = state.info;
  document.getElementById("title").textContent =
    `dcign explorer: ${info.model} (${info.mode}, ${info.dataset})`;
  [state.encoder, state.decoder] = await Promise.all([
    ort.InferenceSession.create("encoder.onnx"), ort.InferenceSession.create("decoder.onnx")]);
  buildSliders();
  buildGallery();
  setupDrop();
  // a link can pick the image (?image=<gallery index>) and set sliders (?azimuth=-1&light=60)
  const params = new URLSearchParams(location.search);
  const thumbs = document.querySelectorAll("#gallery img");
  const first = thumbs[Math.min(Number(params.get("image")) || 0, thumbs.length - 1)];
  if (first) {
    first.classList.add("chosen");
    const im = info.images.find((x) => x.file === first.getAttribute("src"));
    await choose(grayOf(await loadImage(im.file)), im.identity, im.values);
  }
  const set = Object.keys(info.factors).filter((t) => params.has(t));
  set.forEach((t) => { state.sliders[t].input.value = params.get(t); });
  if (set.length) await render();
  status("Pick a test image or drop your own; move the sliders to turn and relight it. " +
         "The decoder runs in this page.");
  if (params.has("test")) await selfTest();
}

main().catch((e) => { status(`error: ${e.message}`); console.error(e); });
