// chainrule playground: every setting goes to the server, which builds the network with
// chainrule (a recipe, Sequential, Trainer) and trains it in short chunks, one request each;
// this page only asks for the next chunk and colours what comes back: the decision boundary
// and every hidden unit's output on grids over the plane, and the loss curves.
"use strict";

const $ = (id) => document.getElementById(id);

// class colours (the first two as in TensorFlow Playground), then a qualitative palette
const PALETTE = [
  [245, 147, 34], [8, 119, 189], [46, 160, 67], [148, 103, 189], [214, 39, 40],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const NEGATIVE = PALETTE[0];
const POSITIVE = PALETTE[1];
const WHITE = [255, 255, 255];
const DATASET_LABELS = { xor: "XOR", csv: "your CSV" };

const state = {
  options: null,
  id: null,
  settings: null,
  points: null,
  snapshot: null,
  csvName: null,
  running: false,
  busy: false,
  generation: 0, // bumped by every new configuration: late answers for an old one are dropped
  hovered: null,
};

// ---------------------------------------------------------------- talking to the server

async function api(path, body, raw) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": raw ? "text/csv" : "application/json" },
    body: raw ? body : JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let answer = null;
  try {
    answer = await response.json();
  } catch (error) {
    answer = { error: `the server answered ${response.status}` };
  }
  if (!response.ok) {
    const failure = new Error(answer.error || `the server answered ${response.status}`);
    failure.status = response.status;
    throw failure;
  }
  return answer;
}

async function start() {
  try {
    state.options = await api("/api/playground/options");
  } catch (error) {
    setStatus("error", `cannot load the playground (${error.message})`);
    return;
  }
  buildControls();
  await configure(state.options.defaults, true);
}

// A new configuration: new points and network on the server, drawn afresh here.
async function configure(settings, fresh) {
  pause();
  state.generation += 1;
  const generation = state.generation;
  setStatus("busy", "building the network…");
  try {
    const path = fresh || !state.id ? "/api/playground/new" : `/api/playground/settings/${state.id}`;
    const answer = await api(path, settings);
    if (generation !== state.generation) return;
    show(answer);
  } catch (error) {
    if (error.status === 404 && !fresh) return configure(settings, true); // session expired
    setStatus("error", error.message);
    showControls(state.settings); // back to what the server has
  }
}

function show(answer) {
  state.id = answer.id;
  state.settings = answer.settings;
  state.points = answer.points;
  state.csvName = answer.csv_name;
  showControls(answer.settings);
  $("parameters").textContent = `${answer.parameters.toLocaleString()} parameters`;
  $("export-recipe").href = `/api/playground/recipe/${answer.id}`;
  $("export-model").href = `/api/playground/model/${answer.id}`;
  $("train-command").textContent = `chainrule train ${answer.recipe_name}.yaml`;
  drawLegend();
  buildNeuronGrid(answer.snapshot);
  render(answer.snapshot);
  setStatus("paused", "ready: press Train");
}

async function trainChunk(steps) {
  const generation = state.generation;
  state.busy = true;
  try {
    const snapshot = await api(`/api/playground/train/${state.id}`, { steps });
    if (generation !== state.generation) return false;
    render(snapshot);
    if (snapshot.diverged) {
      pause();
      setStatus("error", `${snapshot.diverged} Lower the learning rate, then Reset.`);
      return false;
    }
    if (snapshot.step >= snapshot.max_steps) {
      pause();
      setStatus("paused", `this run made its ${snapshot.max_steps.toLocaleString()} steps: Reset to train again`);
      return false;
    }
    return true;
  } catch (error) {
    if (generation !== state.generation) return false;
    pause();
    if (error.status === 404) {
      setStatus("error", "the session expired; starting again…");
      await configure(state.settings, true);
    } else {
      setStatus("error", error.message);
    }
    return false;
  } finally {
    state.busy = false;
  }
}

async function loop() {
  while (state.running) {
    const going = await trainChunk(Number($("speed").value));
    if (!going) break;
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

function play() {
  if (state.running || !state.id) return;
  state.running = true;
  $("run").textContent = "❚❚ Pause";
  $("run").setAttribute("aria-pressed", "true");
  setStatus("running", "training…");
  loop();
}

function pause() {
  if (!state.running) return;
  state.running = false;
  $("run").textContent = "▶ Train";
  $("run").setAttribute("aria-pressed", "false");
  setStatus("paused", "paused");
}

function setStatus(kind, text) {
  const status = $("status");
  status.dataset.state = kind;
  status.textContent = text;
}

// ---------------------------------------------------------------- the controls

function buildControls() {
  const { options } = state;
  const names = [...Object.keys(options.datasets), "csv"];
  $("datasets").replaceChildren(...names.map((name) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.dataset = name;
    button.textContent = DATASET_LABELS[name] || name[0].toUpperCase() + name.slice(1);
    button.setAttribute("role", "radio");
    button.addEventListener("click", () => {
      if (name === "csv" && !state.csvName) { $("csv").click(); return; }
      const settings = { ...readSettings(), dataset: name, settings: {} };
      configure(settings);
    });
    return button;
  }));
  $("activation").replaceChildren(...options.activations.map((a) => new Option(a, a)));
  $("optimizer").replaceChildren(...options.optimizers.map((o) => new Option(o, o)));
  for (const id of ["activation", "optimizer", "learning_rate", "l2", "test_fraction"]) {
    $(id).addEventListener("change", () => configure(readSettings()));
  }
  for (const id of ["batch_size", "seed"]) {
    $(id).addEventListener("change", () => configure(readSettings()));
  }
  $("add-layer").addEventListener("click", () => {
    const settings = readSettings();
    if (settings.hidden.length >= options.limits.max_hidden_layers) return;
    settings.hidden.push(settings.hidden.length ? settings.hidden[settings.hidden.length - 1] : 4);
    configure(settings);
  });
  $("remove-layer").addEventListener("click", () => {
    const settings = readSettings();
    if (!settings.hidden.length) return;
    settings.hidden.pop();
    configure(settings);
  });
  $("run").addEventListener("click", () => (state.running ? pause() : play()));
  $("step").addEventListener("click", async () => {
    pause();
    if (!state.busy && await trainChunk(1)) setStatus("paused", "one step done");
  });
  $("reset").addEventListener("click", async () => {
    pause();
    const generation = state.generation;
    try {
      const snapshot = await api(`/api/playground/reset/${state.id}`, {});
      if (generation === state.generation) render(snapshot);
      setStatus("paused", "new weights: press Train");
    } catch (error) {
      setStatus("error", error.message);
    }
  });
  $("show-test").addEventListener("change", () => render(state.snapshot));
  $("csv").addEventListener("change", uploadCsv);
  window.addEventListener("pagehide", () => {
    if (state.id) navigator.sendBeacon(`/api/playground/close/${state.id}`);
  });
}

// The controls show the settings the server holds (it may have adjusted them).
function showControls(settings) {
  if (!settings) return;
  for (const button of $("datasets").children) {
    const on = button.dataset.dataset === settings.dataset;
    button.setAttribute("aria-checked", String(on));
    if (button.dataset.dataset === "csv") {
      button.textContent = state.csvName ? state.csvName : "your CSV";
    }
  }
  const dataset = state.options.datasets[settings.dataset];
  $("dataset-help").textContent = dataset ? dataset.description
    : `${state.csvName}: your own points`;
  $("dataset-params").replaceChildren(...(dataset ? dataset.params : []).map((param) => {
    const label = document.createElement("label");
    label.textContent = param.name;
    label.title = param.help;
    const input = document.createElement("input");
    input.type = "number";
    input.dataset.param = param.name;
    input.dataset.kind = param.kind;
    if (param.minimum !== null) input.min = param.minimum;
    if (param.maximum !== null) input.max = param.maximum;
    input.step = param.kind === "int" ? "1" : "0.01";
    input.value = settings.settings[param.name] ?? param.default;
    input.addEventListener("change", () => configure(readSettings()));
    label.append(input);
    return label;
  }));
  $("activation").value = settings.activation;
  $("optimizer").value = settings.optimizer;
  selectNumber("learning_rate", settings.learning_rate);
  selectNumber("l2", settings.l2);
  selectNumber("test_fraction", settings.test_fraction);
  $("batch_size").value = settings.batch_size;
  $("seed").value = settings.seed;
  $("layer-count").textContent = String(settings.hidden.length);
  $("layer-word").textContent = settings.hidden.length === 1 ? "hidden layer" : "hidden layers";
  $("add-layer").disabled = settings.hidden.length >= state.options.limits.max_hidden_layers;
  $("remove-layer").disabled = settings.hidden.length === 0;
}

// A select showing a number the server holds, even one the menu does not list.
function selectNumber(id, value) {
  const select = $(id);
  const match = [...select.options].find((option) => Number(option.value) === Number(value));
  if (match) { select.value = match.value; return; }
  select.append(new Option(String(value), String(value)));
  select.value = String(value);
}

function readSettings() {
  const params = {};
  for (const input of $("dataset-params").querySelectorAll("input")) {
    params[input.dataset.param] = input.dataset.kind === "int"
      ? parseInt(input.value, 10) : parseFloat(input.value);
  }
  const settings = state.settings || state.options.defaults;
  return {
    dataset: settings.dataset,
    settings: settings.dataset === "csv" ? {} : params,
    seed: parseInt($("seed").value, 10),
    test_fraction: Number($("test_fraction").value),
    hidden: [...settings.hidden],
    activation: $("activation").value,
    optimizer: $("optimizer").value,
    learning_rate: Number($("learning_rate").value),
    batch_size: parseInt($("batch_size").value, 10),
    l2: Number($("l2").value),
  };
}

async function uploadCsv() {
  const file = $("csv").files[0];
  $("csv").value = "";
  const problem = $("csv-error");
  problem.hidden = true;
  if (!file || !state.id) return;
  if (file.size > state.options.limits.max_csv_bytes) {
    problem.textContent = `${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; the playground takes CSV files up to ${state.options.limits.max_csv_bytes / 1024} KiB`;
    problem.hidden = false;
    return;
  }
  pause();
  state.generation += 1;
  setStatus("busy", `reading ${file.name}…`);
  try {
    const path = `/api/playground/csv/${state.id}?name=${encodeURIComponent(file.name)}`;
    show(await api(path, await file.arrayBuffer(), true));
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
    setStatus("error", "the CSV was not used");
  }
}

// ---------------------------------------------------------------- the hidden units

function buildNeuronGrid(snapshot) {
  const settings = state.settings;
  const blocks = settings.hidden.map((width, index) => {
    const block = document.createElement("div");
    block.className = "hidden-layer";
    const head = document.createElement("div");
    head.className = "layer-head";
    const title = document.createElement("span");
    const layer = snapshot.neurons[index];
    title.textContent = layer ? layer.layer : `layer ${index + 1}`;
    const less = document.createElement("button");
    less.type = "button";
    less.textContent = "−";
    less.title = "one unit fewer";
    less.disabled = width <= 1;
    const more = document.createElement("button");
    more.type = "button";
    more.textContent = "+";
    more.title = "one unit more";
    more.disabled = width >= state.options.limits.max_width;
    const count = document.createElement("span");
    count.className = "units";
    count.textContent = `${width} units`;
    for (const [button, change] of [[less, -1], [more, 1]]) {
      button.addEventListener("click", () => {
        const next = readSettings();
        next.hidden[index] = Math.max(1, next.hidden[index] + change);
        configure(next);
      });
    }
    head.append(title, less, count, more);
    const grid = document.createElement("div");
    grid.className = "units-grid";
    for (let unit = 0; unit < width; unit += 1) {
      const canvas = document.createElement("canvas");
      canvas.width = snapshot.neurons[index].size;
      canvas.height = snapshot.neurons[index].size;
      canvas.className = "unit";
      canvas.dataset.layer = String(index);
      canvas.dataset.unit = String(unit);
      canvas.title = `${title.textContent} unit ${unit + 1}`;
      canvas.addEventListener("mouseenter", () => { state.hovered = [index, unit]; drawMain(); });
      canvas.addEventListener("mouseleave", () => { state.hovered = null; drawMain(); });
      grid.append(canvas);
    }
    block.append(head, grid);
    return block;
  });
  $("hidden-layers").replaceChildren(...blocks);
  $("hidden-layers").dataset.layers = String(blocks.length);
  if (!blocks.length) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "No hidden layer: the output is a softmax of x·W + b, a linear boundary.";
    $("hidden-layers").append(none);
  }
}

function decode(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function mix(from, to, t) {
  return from.map((c, k) => Math.round(c + (to[k] - c) * t));
}

// a unit's value in [-1, 1] (as a byte 0..255): orange below 0, white at 0, blue above
const DIVERGING = Array.from({ length: 256 }, (_, byte) => {
  const v = byte / 127.5 - 1;
  return v < 0 ? mix(WHITE, NEGATIVE, -v) : mix(WHITE, POSITIVE, v);
});
// a class's colour by certainty (a byte): white where the classes are equally likely
const SHADES = PALETTE.map((colour) =>
  Array.from({ length: 256 }, (_, byte) => mix(WHITE, colour, 0.15 + (0.6 * byte) / 255)));

function paint(image, count, colourOf) {
  const data = image.data;
  for (let i = 0; i < count; i += 1) {
    const [r, g, b] = colourOf(i);
    data[4 * i] = r;
    data[4 * i + 1] = g;
    data[4 * i + 2] = b;
    data[4 * i + 3] = 255;
  }
  return image;
}

function unitImage(layer, unit) {
  const size = layer.size;
  const values = layer.bytes || (layer.bytes = decode(layer.values));
  const offset = unit * size * size;
  return paint(new ImageData(size, size), size * size, (i) => DIVERGING[values[offset + i]]);
}

function drawUnits(snapshot) {
  for (const canvas of $("hidden-layers").querySelectorAll("canvas.unit")) {
    const layer = snapshot.neurons[Number(canvas.dataset.layer)];
    if (!layer) continue;
    canvas.getContext("2d").putImageData(unitImage(layer, Number(canvas.dataset.unit)), 0, 0);
  }
}

// ---------------------------------------------------------------- the plane and the curves

function render(snapshot) {
  if (!snapshot) return;
  state.snapshot = snapshot;
  drawMain();
  drawUnits(snapshot);
  drawCurve(snapshot.curve);
  const percent = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);
  const loss = (v) => (v === null || v === undefined ? "–" : v.toFixed(4));
  $("stat-step").textContent = snapshot.step.toLocaleString();
  $("stat-epoch").textContent = snapshot.epoch.toFixed(1);
  $("stat-train-loss").textContent = loss(snapshot.train_loss);
  $("stat-test-loss").textContent = loss(snapshot.test_loss);
  $("stat-train-accuracy").textContent = percent(snapshot.train_accuracy);
  $("stat-test-accuracy").textContent = percent(snapshot.test_accuracy);
  const stats = $("stats");
  stats.dataset.step = String(snapshot.step);
  stats.dataset.testAccuracy = String(snapshot.test_accuracy);
  stats.dataset.trainAccuracy = String(snapshot.train_accuracy);
}

// The boundary (or, while a unit is hovered, that unit's map) with the points over it.
function drawMain() {
  const snapshot = state.snapshot;
  if (!snapshot || !state.points) return;
  const canvas = $("boundary");
  const context = canvas.getContext("2d");
  const hovered = state.hovered && snapshot.neurons[state.hovered[0]];
  let image;
  if (hovered) {
    image = unitImage(hovered, state.hovered[1]);
    $("view-label").textContent = `· ${hovered.layer} unit ${state.hovered[1] + 1}`;
  } else {
    const size = snapshot.boundary.size;
    const classes = decode(snapshot.boundary.classes);
    const certainty = decode(snapshot.boundary.certainty);
    image = paint(new ImageData(size, size), size * size,
      (i) => SHADES[classes[i] % PALETTE.length][certainty[i]]);
    $("view-label").textContent = "· decision boundary";
  }
  const small = document.createElement("canvas");
  small.width = image.width;
  small.height = image.height;
  small.getContext("2d").putImageData(image, 0, 0);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
  drawAxes(context, canvas);
  drawPoints(context, canvas, state.points.train, false);
  if ($("show-test").checked) drawPoints(context, canvas, state.points.test, true);
  canvas.dataset.step = String(snapshot.step);
}

function toCanvas(canvas, x, y) {
  const [xMin, xMax, yMin, yMax] = state.points.extent;
  return [((x - xMin) / (xMax - xMin)) * canvas.width, ((yMax - y) / (yMax - yMin)) * canvas.height];
}

function drawAxes(context, canvas) {
  const [xMin, xMax, yMin, yMax] = state.points.extent;
  context.save();
  context.strokeStyle = "rgba(29, 35, 48, 0.18)";
  context.lineWidth = 1;
  if (xMin < 0 && xMax > 0) {
    const [x] = toCanvas(canvas, 0, 0);
    context.beginPath(); context.moveTo(x, 0); context.lineTo(x, canvas.height); context.stroke();
  }
  if (yMin < 0 && yMax > 0) {
    const [, y] = toCanvas(canvas, 0, 0);
    context.beginPath(); context.moveTo(0, y); context.lineTo(canvas.width, y); context.stroke();
  }
  context.fillStyle = "rgba(29, 35, 48, 0.55)";
  context.font = "11px system-ui, sans-serif";
  const [first, second] = state.points.features;
  context.fillText(`${first} ${xMin.toFixed(1)} … ${xMax.toFixed(1)}`, 6, canvas.height - 6);
  context.save();
  context.translate(12, canvas.height - 24);
  context.rotate(-Math.PI / 2);
  context.fillText(`${second} ${yMin.toFixed(1)} … ${yMax.toFixed(1)}`, 0, 0);
  context.restore();
  context.restore();
}

function drawPoints(context, canvas, points, test) {
  context.save();
  context.lineWidth = test ? 1.6 : 1;
  context.strokeStyle = test ? "#1d2330" : "#ffffff";
  points.x.forEach(([x, y], index) => {
    const [px, py] = toCanvas(canvas, x, y);
    context.beginPath();
    context.arc(px, py, test ? 3.6 : 3.4, 0, 2 * Math.PI);
    const [r, g, b] = PALETTE[points.y[index] % PALETTE.length];
    context.fillStyle = `rgb(${r}, ${g}, ${b})`;
    context.fill();
    context.stroke();
  });
  context.restore();
}

function drawLegend() {
  $("class-legend").replaceChildren(...state.points.classes.map((name, index) => {
    const item = document.createElement("span");
    item.className = "class";
    const swatch = document.createElement("span");
    swatch.className = "dot";
    const [r, g, b] = PALETTE[index % PALETTE.length];
    swatch.style.background = `rgb(${r}, ${g}, ${b})`;
    item.append(swatch, `class ${name}`);
    return item;
  }));
}

function drawCurve(curve) {
  const canvas = $("curve");
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const steps = curve.step;
  const series = [["train_loss", "#1d2330", []], ["test_loss", "#2f6fdb", [5, 4]]];
  const values = series.flatMap(([key]) => curve[key].filter((v) => v !== null));
  const top = Math.max(...values, 1e-6) * 1.08;
  const last = Math.max(steps[steps.length - 1], 1);
  const left = 38;
  const bottom = height - 18;
  context.strokeStyle = "#d7dce3";
  context.fillStyle = "#5f6b7a";
  context.font = "11px system-ui, sans-serif";
  context.beginPath();
  context.moveTo(left, 4); context.lineTo(left, bottom); context.lineTo(width - 4, bottom);
  context.stroke();
  context.fillText(top.toFixed(top < 1 ? 2 : 1), 2, 12);
  context.fillText("0", 26, bottom);
  context.fillText(`${last.toLocaleString()} steps`, width - 80, height - 4);
  const x = (step) => left + ((width - 4 - left) * step) / last;
  const y = (value) => bottom - ((bottom - 4) * value) / top;
  for (const [key, colour, dash] of series) {
    context.beginPath();
    context.setLineDash(dash);
    context.strokeStyle = colour;
    context.lineWidth = 1.6;
    let started = false;
    curve[key].forEach((value, index) => {
      if (value === null) { started = false; return; }
      if (started) context.lineTo(x(steps[index]), y(value));
      else context.moveTo(x(steps[index]), y(value));
      started = true;
    });
    context.stroke();
  }
  context.setLineDash([]);
}

start();
