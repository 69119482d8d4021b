// chainrule serve: draw on the pad; each stroke (and every THROTTLE_MS while drawing) sends
// the pad as PNG to /api/predict, which preprocesses it exactly as `chainrule predict` does
// and answers with the 28×28 input, the class probabilities and the hidden activations.
// An uploaded photo goes the same way (?stages=1), and its preprocessing stages are shown.
"use strict";

const THROTTLE_MS = 250;
// The server refuses larger bodies (413); saying so here saves sending them.
const MAX_PHOTO_BYTES = 32 * 1024 * 1024;

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const picker = document.getElementById("model");
const pickerLabel = document.getElementById("model-picker");
const modelInfo = document.getElementById("model-info");
const prediction = document.getElementById("prediction");
const bars = document.getElementById("bars");
const input28 = document.getElementById("input28");
const layers = document.getElementById("layers");
const photo = document.getElementById("photo");
const stagesPanel = document.getElementById("stages-panel");
const stages = document.getElementById("stages");
const photoName = document.getElementById("photo-name");

let models = [];
let drawing = false;
let hasInk = false;
let last = null;
let lastSent = 0;
let timer = null;
let inFlight = false;
let pending = false;
// Every change to the pad bumps `version` (shown as the pad's data-version); an answer is
// labelled with the version it was asked for, and answers from before a Clear are dropped.
let version = 0;
let clearedAt = 0;

function changed() {
  version += 1;
  pad.dataset.version = String(version);
}

// ---------------------------------------------------------------- the drawing pad

function clearPad() {
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#111111";
  ctx.fillStyle = "#111111";
  // MNIST strokes are ~2-3 px in a 20 px box: about 1/13 of a digit that fills the pad
  ctx.lineWidth = pad.width / 13;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  hasInk = false;
  changed();
  clearedAt = version;
}

function position(event) {
  const box = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * pad.width) / box.width,
    y: ((event.clientY - box.top) * pad.height) / box.height,
  };
}

function dot(point) {
  ctx.beginPath();
  ctx.arc(point.x, point.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fill();
  changed();
}

function lineTo(point) {
  ctx.beginPath();
  ctx.moveTo(last.x, last.y);
  ctx.lineTo(point.x, point.y);
  ctx.stroke();
  last = point;
  changed();
}

pad.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  event.preventDefault();
  if (!stagesPanel.hidden) { clearPad(); showEmpty(); } // a drawing after a photo starts afresh
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  hasInk = true;
  last = position(event);
  dot(last);
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const each of events.length ? events : [event]) lineTo(position(each));
  throttledPredict();
});

function endStroke(event) {
  if (!drawing) return;
  drawing = false;
  if (pad.hasPointerCapture(event.pointerId)) pad.releasePointerCapture(event.pointerId);
  clearTimeout(timer);
  timer = null;
  predict();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", () => {
  clearPad();
  showEmpty();
});

// ---------------------------------------------------------------- an uploaded photo

photo.addEventListener("change", async () => {
  const file = photo.files[0];
  photo.value = ""; // choosing the same file again is a new upload
  if (!file || !models.length) return;
  clearPad(); // answers still coming for an earlier drawing are dropped
  showEmpty();
  const asked = version;
  prediction.dataset.state = "busy";
  prediction.textContent = `reading ${file.name}…`;
  if (file.size > MAX_PHOTO_BYTES) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; photos may have at most ${MAX_PHOTO_BYTES / 2 ** 20} MiB`);
    return;
  }
  try {
    const url = `/api/predict?model=${encodeURIComponent(picker.value)}&stages=1`;
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file,
    });
    const answer = await response.json();
    if (asked !== version) return; // drawn on meanwhile
    if (!response.ok) {
      showError(`${file.name}: ${answer.error || `the server answered ${response.status}`}`);
      return;
    }
    showAnswer(answer);
    drawStages(answer.stages, file.name);
    prediction.dataset.source = "photo";
  } catch (error) {
    if (asked === version) showError(`cannot reach the server (${error.message})`);
  }
});

function drawStages(list, name) {
  photoName.textContent = `· ${name}`;
  const figures = [];
  list.forEach((stage, index) => {
    if (index) {
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.textContent = "→";
      figures.push(arrow);
    }
    const figure = document.createElement("figure");
    figure.setAttribute("role", "listitem");
    figure.dataset.stage = stage.name;
    const image = document.createElement("img");
    image.src = stage.png;
    image.alt = `${stage.title}: ${stage.width}×${stage.height}`;
    if (Math.max(stage.width, stage.height) <= 28) image.className = "small";
    const caption = document.createElement("figcaption");
    caption.textContent = stage.title;
    figure.append(image, caption);
    figures.push(figure);
  });
  stages.replaceChildren(...figures);
  stagesPanel.hidden = false;
}

// ---------------------------------------------------------------- talking to the server

function throttledPredict() {
  const wait = THROTTLE_MS - (performance.now() - lastSent);
  if (wait <= 0) predict();
  else if (timer === null) timer = setTimeout(() => { timer = null; predict(); }, wait);
}

async function predict() {
  if (!hasInk || !models.length) return;
  if (inFlight) { pending = true; return; }
  inFlight = true;
  lastSent = performance.now();
  const asked = version;
  try {
    const png = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    const url = `/api/predict?model=${encodeURIComponent(picker.value)}`;
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "image/png" }, body: png,
    });
    const answer = await response.json();
    if (asked <= clearedAt) return;
    if (!response.ok) showError(answer.error || `the server answered ${response.status}`);
    else showAnswer(answer);
    prediction.dataset.version = String(asked);
  } catch (error) {
    if (asked > clearedAt) showError(`cannot reach the server (${error.message})`);
  } finally {
    inFlight = false;
    if (pending) { pending = false; predict(); }
  }
}

async function loadModels() {
  try {
    const response = await fetch("/api/models");
    models = (await response.json()).models;
  } catch (error) {
    showError(`cannot load the model list (${error.message})`);
    return;
  }
  picker.replaceChildren(...models.map((model) => new Option(model.name, model.id)));
  pickerLabel.hidden = models.length < 2;
  if (!models.length) {
    showError("No model is being served: start the server with one, e.g. chainrule serve " +
      "runs/mlp (a run directory written by chainrule train). The playground needs none.");
    photo.disabled = true;
    return;
  }
  describeModel();
}

function describeModel() {
  const model = models.find((each) => each.id === picker.value) || models[0];
  if (!model) return;
  const shapes = model.layers.map((layer) => layer.name).join(" → ");
  modelInfo.textContent =
    `${model.name}: ${model.parameters.toLocaleString()} parameters · ${shapes}`;
}

picker.addEventListener("change", () => {
  describeModel();
  if (hasInk) predict();
  else showEmpty();
});

// ---------------------------------------------------------------- showing the answer

function showEmpty() {
  prediction.dataset.state = "empty";
  delete prediction.dataset.version;
  delete prediction.dataset.source;
  stagesPanel.hidden = true;
  stages.replaceChildren();
  prediction.textContent = "Draw a digit";
  bars.replaceChildren();
  layers.replaceChildren();
  input28.getContext("2d").clearRect(0, 0, 28, 28);
}

function showError(message) {
  prediction.dataset.state = "error";
  prediction.textContent = message;
}

function showAnswer(answer) {
  const best = answer.probabilities.indexOf(Math.max(...answer.probabilities));
  const digit = document.createElement("span");
  digit.className = "digit";
  digit.textContent = answer.prediction;
  const confidence = document.createElement("span");
  confidence.className = "confidence";
  confidence.textContent = `${(100 * answer.probabilities[best]).toFixed(1)}%`;
  prediction.replaceChildren(digit, confidence);
  prediction.dataset.state = "done";
  drawInput(answer.input);
  drawBars(answer.class_names, answer.probabilities, best);
  drawLayers(answer.layers);
}

function drawInput(rows) {
  const context = input28.getContext("2d");
  const image = context.createImageData(28, 28);
  rows.flat().forEach((value, index) => {
    image.data.set([value, value, value, 255], 4 * index);
  });
  context.putImageData(image, 0, 0);
}

function drawBars(names, probabilities, best) {
  bars.replaceChildren(...names.map((name, index) => {
    const row = document.createElement("div");
    row.className = index === best ? "bar best" : "bar";
    row.setAttribute("role", "listitem");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(100 * probabilities[index]).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${(100 * probabilities[index]).toFixed(1)}%`;
    row.append(label, track, value);
    return row;
  }));
}

// Heat colours: a sequential ramp (black → purple → orange → yellow) for layers that are
// never negative, a diverging one (blue → white → red) for layers that can be.
const SEQUENTIAL = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
const DIVERGING = [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]];

function colour(stops, t) {
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
}

function drawLayers(hidden) {
  layers.replaceChildren(...hidden.map((layer) => {
    const values = layer.values;
    const count = values.length;
    // (channels, h, w) maps sit side by side; a vector wraps into rows of 16 or 32 units
    const [tiles, tileH, tileW] = layer.shape.length === 3
      ? layer.shape : [1, 1, count];
    const cols = layer.shape.length === 3 ? tiles * (tileW + 1) - 1
      : count <= 16 ? count : count <= 128 ? 16 : 32;
    const rows = layer.shape.length === 3 ? tileH : Math.ceil(count / cols);
    const canvas = document.createElement("canvas");
    canvas.width = cols;
    canvas.height = rows;
    const cell = Math.max(2, Math.min(14, Math.floor(448 / cols)));
    canvas.style.width = `${cols * cell}px`;
    canvas.style.height = `${rows * cell}px`;
    const negative = values.some((v) => v < 0);
    const scale = Math.max(...values.map(Math.abs)) || 1;
    const context = canvas.getContext("2d");
    const image = context.createImageData(cols, rows);
    values.forEach((v, index) => {
      let x = index % cols;
      let y = Math.floor(index / cols);
      if (layer.shape.length === 3) {
        const tile = Math.floor(index / (tileH * tileW));
        const within = index % (tileH * tileW);
        x = tile * (tileW + 1) + (within % tileW);
        y = Math.floor(within / tileW);
      }
      const rgb = negative ? colour(DIVERGING, 0.5 + v / (2 * scale)) : colour(SEQUENTIAL, v / scale);
      image.data.set([...rgb, 255], 4 * (y * cols + x));
    });
    context.putImageData(image, 0, 0);
    const block = document.createElement("figure");
    block.className = "layer";
    const caption = document.createElement("figcaption");
    const active = values.filter((v) => v > 0).length;
    caption.textContent =
      `${layer.name} · ${layer.shape.join("×")} · ${active} of ${count} active · max ${scale.toFixed(2)}`;
    block.append(caption, canvas);
    return block;
  }));
}

clearPad();
loadModels();
