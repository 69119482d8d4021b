// chainrule serve, "Step through backprop": draws an explain spec's network and steps through
// its worked example. Every number, formula and line of arithmetic shown here comes from the
// server (/api/step: the record `chainrule explain` prints); this file only draws and asks.
// An edit changes the spec and posts it back: nothing is ever computed here.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const R = 30; // neuron radius, in drawing units
const COLUMN = 220;
const ROW = 150;

const $ = (id) => document.getElementById(id);
const ui = {
  example: $("example"),
  toggleEditor: $("toggle-editor"),
  editor: $("editor"),
  yaml: $("yaml"),
  applyYaml: $("apply-yaml"),
  yamlError: $("yaml-error"),
  explore: $("mode-explore"),
  practice: $("mode-practice"),
  status: $("status"),
  error: $("error"),
  title: $("spec-title"),
  overview: $("overview"),
  legend: $("legend"),
  drawing: $("drawing"),
  first: $("first"),
  back: $("back"),
  next: $("next"),
  last: $("last"),
  phaseTitle: $("phase-title"),
  phases: $("phases"),
  examplePicker: $("example-picker"),
  exampleIndex: $("example-index"),
  phaseFormulas: $("phase-formulas"),
  practicePanel: $("practice-panel"),
  practiceSummary: $("practice-summary"),
  practiceList: $("practice-list"),
  check: $("check"),
  resetAnswers: $("reset-answers"),
  detailsTitle: $("details-title"),
  details: $("details-body"),
  controls: $("controls"),
  tooltip: $("tooltip"),
};

const state = {
  record: null,
  source: null, // what was posted: {example}, {yaml} or {spec}
  phase: 0, // index into record.phases
  example: 1,
  selected: null, // {kind: "value", id} | {kind: "weight", name} | {kind: "bias", name} | ...
  mode: "explore",
  answers: {}, // name -> the text the student typed
  verdicts: {}, // name -> check's verdict for it
  firstWrong: null,
  paths: null, // the answer of /api/step/paths for the selected weight
  focusPath: null,
  version: 0,
};

// ---------------------------------------------------------------- talking to the server

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer;
  try {
    answer = await response.json();
  } catch {
    throw new Error(`the server answered ${response.status} without a message`);
  }
  if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
  return answer;
}

async function load(source, { keepPhase = false, fromEditor = false } = {}) {
  const asked = ++state.version;
  ui.status.textContent = "working it out…";
  try {
    const record = await post("/api/step", source);
    if (asked !== state.version) return;
    const previous = state.record;
    state.record = record;
    state.source = source;
    indexValues(record);
    if (!keepPhase || !previous || previous.phases.length !== record.phases.length) {
      state.phase = keepPhase && previous ? Math.min(state.phase, record.phases.length - 1) : 0;
    }
    if (state.example > record.network.examples) state.example = 1;
    if (!keepPhase) {
      state.selected = null;
      state.answers = {};
      state.verdicts = {};
      state.firstWrong = null;
    }
    state.paths = null;
    hideError();
    ui.yamlError.hidden = true;
    if (!fromEditor) ui.yaml.value = record.yaml;
    showSource(source);
    ui.status.textContent = `worked out in ${record.milliseconds} ms`;
    if (state.mode === "practice" && record.practice) setMode("explore");
    renderAll();
    if (state.selected && state.selected.kind === "weight") fetchPaths(state.selected.name);
    if (state.mode === "practice" && Object.keys(state.answers).length) runCheck();
  } catch (error) {
    if (asked !== state.version) return;
    ui.status.textContent = "";
    if (fromEditor) {
      ui.yamlError.textContent = error.message;
      ui.yamlError.hidden = false;
    } else {
      showError(error.message);
    }
  }
}

function showSource(source) {
  // the menu names the example shown, or says the spec is one edited here
  let edited = ui.example.querySelector("option[value='']");
  if (source.example) {
    ui.example.value = source.example;
    if (edited) edited.remove();
    return;
  }
  if (!edited) {
    edited = h("option", { value: "" }, "your edited spec");
    ui.example.prepend(edited);
  }
  ui.example.value = "";
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
}

// ---------------------------------------------------------------- the record, indexed

let byId = new Map();
let byKey = new Map();
let phaseAt = new Map();

function key(step, example, kind, layer, index) {
  return `${step}|${example}|${kind}|${layer}|${(index || []).join(",")}`;
}

function indexValues(record) {
  byId = new Map();
  byKey = new Map();
  phaseAt = new Map(record.phases.map((phase, i) => [phase.id, i]));
  for (const value of record.values) {
    byId.set(value.id, value);
    const given = value.id.startsWith("given:") ? "given" : "";
    const k = key(value.step, value.example, given + value.kind, value.layer, value.index);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k).push(value);
  }
}

function find(step, example, kind, layer, index) {
  const found = byKey.get(key(step, example, kind, layer, index));
  return found ? found[0] : null;
}

function findAll(step, example, kind, layer, index) {
  return byKey.get(key(step, example, kind, layer, index)) || [];
}

function currentPhase() {
  return state.record.phases[state.phase];
}

function currentStep() {
  return currentPhase().step;
}

function reached(value) {
  if (value.phase === null) return true;
  if (value.step !== currentStep()) return value.step < currentStep();
  return phaseAt.get(value.phase) <= state.phase;
}

// Practice asks for every computed number of step 1 (one example): check grades that step.
function practised(value) {
  return (
    state.mode === "practice" &&
    value &&
    value.step === 1 &&
    value.phase !== null &&
    state.record.practice_names.includes(value.name)
  );
}

function shown(value) {
  if (!value) return "";
  if (practised(value)) return state.answers[value.name] ?? "?";
  return value.text;
}

function neuronValues(step, example, layer, j) {
  const out = [];
  for (const kind of ["z", "a", "dL/da", "f'"]) {
    const value = find(step, example, kind, layer, [j]);
    if (value) out.push(value);
  }
  const width = state.record.network.widths[layer];
  for (let i = 1; i <= width; i += 1) {
    const entry = find(step, example, "J", layer, [i, j]);
    if (entry) out.push(entry);
  }
  const delta = find(step, example, "δ", layer, [j]);
  if (delta) out.push(delta);
  return out;
}

// ---------------------------------------------------------------- drawing

function el(name, attributes = {}, parent = null, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function layout() {
  const widths = state.record.network.widths;
  const tallest = Math.max(...widths);
  const top = 56;
  const left = 60;
  const x = (layer) => left + layer * COLUMN;
  const y = (layer, j) => top + ((tallest - widths[layer]) / 2 + (j - 0.5)) * ROW;
  const L = widths.length - 1;
  return {
    x,
    y,
    L,
    lossX: x(L) + 150,
    width: x(L) + 150 + 50,
    height: top + tallest * ROW + 10,
  };
}

function valueText(parent, value, x, y, cls, anchor = "middle") {
  // One number on the drawing: its id, so a click or hover finds its formula.
  const t = el("text", { x, y, class: `val ${cls}`, "text-anchor": anchor }, parent, shown(value));
  t.dataset.id = value.id;
  t.dataset.name = value.name;
  markVerdict(t, value);
  return t;
}

function markVerdict(node, value) {
  if (!practised(value)) return;
  const verdict = state.verdicts[value.name];
  node.classList.add("practice");
  if (verdict) node.classList.add(`verdict-${verdict.verdict}`);
  if (state.firstWrong === value.name) node.classList.add("first-wrong");
}

function draw() {
  const record = state.record;
  const net = record.network;
  const g = layout();
  const step = currentStep();
  const phase = currentPhase();
  const e = state.example;
  ui.drawing.textContent = "";
  const svg = el("svg", {
    viewBox: `0 0 ${g.width} ${g.height}`,
    class: "net",
    role: "img",
    "aria-label": `${record.title}: the network`,
  });
  ui.drawing.appendChild(svg);
  const edges = el("g", { class: "edges" }, svg);
  const labels = el("g", { class: "edge-labels" }, svg);
  const nodes = el("g", { class: "nodes" }, svg);

  // column headings
  el("text", { x: g.x(0), y: 22, class: "heading", "text-anchor": "middle" }, svg, "input x");
  net.layers.forEach((layer) => {
    const heading = `layer ${layer.number} · ${layer.symbol}`;
    el(
      "text",
      { x: g.x(layer.number), y: 22, class: "heading", "text-anchor": "middle" },
      svg,
      heading,
    );
  });
  el("text", { x: g.lossX, y: 22, class: "heading", "text-anchor": "middle" }, svg, "loss");

  const gradients = phaseAt.get(`${step}:gradients`);
  const update = phaseAt.get(`${step}:update`);
  const showing =
    state.phase >= update ? "update" : state.phase >= gradients ? "gradient" : "weight";
  const path = pathHighlight();

  // weights: an edge from input k of layer l-1 to neuron j of layer l, its number near j
  for (const layer of net.layers) {
    const l = layer.number;
    const active =
      (phase.part === "forward" && phase.layer === l) ||
      (phase.part === "backward" && phase.layer === l - 1) ||
      phase.part === "gradients" ||
      phase.part === "update";
    for (let j = 1; j <= net.widths[l]; j += 1) {
      for (let k = 1; k <= net.widths[l - 1]; k += 1) {
        const name = `W${l}[${j},${k}]`;
        const weight = find(step, 0, "givenW", l, [j, k]);
        const x1 = g.x(l - 1) + R;
        const y1 = g.y(l - 1, k);
        const x2 = g.x(l) - R;
        const y2 = g.y(l, j);
        const cls = ["edge", weight.value < 0 ? "negative" : "positive"];
        if (active) cls.push(phase.part === "backward" ? "flow-back" : "flow");
        if (path.weights.has(name)) cls.push("on-path");
        if (isSelected("weight", name)) cls.push("selected");
        const strength = Math.min(1, Math.abs(weight.value ?? 0));
        const line = el(
          "line",
          { x1, y1, x2, y2, class: cls.join(" "), "stroke-width": 1.2 + 2.8 * strength },
          edges,
        );
        line.dataset.weight = name;
        // near the neuron the weight feeds: the labels of one neuron stack up beside it
        const t = 0.72;
        const lx = x1 + t * (x2 - x1);
        const ly = y1 + t * (y2 - y1) + 4;
        let shownValue = weight;
        let kind = "weight";
        if (showing === "gradient") {
          shownValue = find(step, 0, "dL/dW", l, [j, k]);
          kind = "gradient";
        } else if (showing === "update") {
          shownValue = find(step, 0, "θ", l, [j, k]) || weight;
          kind = shownValue === weight ? "frozen" : "updated";
        }
        const label = valueText(labels, shownValue, lx, ly, `edge-label ${kind}`);
        label.dataset.weight = name;
        if (path.weights.has(name)) label.classList.add("on-path");
      }
    }
  }

  // the loss node and the edges into it
  const lossValue = find(step, net.examples > 1 ? 0 : 1, "L", g.L, []);
  const lossY = g.y(g.L, (net.widths[g.L] + 1) / 2);
  for (let j = 1; j <= net.widths[g.L]; j += 1) {
    const active = phase.part === "loss" || (phase.part === "backward" && phase.layer === g.L);
    const cls = ["edge", "to-loss"];
    if (active) cls.push(phase.part === "backward" ? "flow-back" : "flow");
    if (path.neurons.has(`${g.L}:${j}`)) cls.push("on-path");
    el(
      "line",
      { x1: g.x(g.L) + R, y1: g.y(g.L, j), x2: g.lossX - 34, y2: lossY, class: cls.join(" ") },
      edges,
    );
    const target = find(0, e, "giveny", g.L, [j]);
    chip(nodes, "y", target, g.x(g.L) + R + 14, g.y(g.L, j) - 12, "given target", "start");
  }
  const lossBox = el("g", { class: `loss-node${phase.part === "loss" ? " current" : ""}` }, nodes);
  el("rect", { x: g.lossX - 34, y: lossY - 34, width: 68, height: 68, rx: 12 }, lossBox);
  el(
    "text",
    { x: g.lossX, y: lossY - 8, class: "node-name", "text-anchor": "middle" },
    lossBox,
    "L",
  );
  if (lossValue && reached(lossValue)) valueText(lossBox, lossValue, g.lossX, lossY + 16, "loss");
  lossBox.dataset.select = "loss";

  // neurons
  for (let l = 0; l <= g.L; l += 1) {
    const current = (phase.part === "forward" || phase.part === "backward") && phase.layer === l;
    for (let j = 1; j <= net.widths[l]; j += 1) {
      const cx = g.x(l);
      const cy = g.y(l, j);
      const group = el("g", { class: "neuron" }, nodes);
      group.dataset.neuron = `${l}:${j}`;
      const cls = ["body"];
      if (current) cls.push(phase.part === "backward" ? "current-back" : "current");
      if (path.neurons.has(`${l}:${j}`)) cls.push("on-path");
      if (isSelected("neuron", `${l}:${j}`)) cls.push("selected");
      el("circle", { cx, cy, r: R, class: cls.join(" ") }, group);
      if (l === 0) {
        el(
          "text",
          { x: cx, y: cy - R - 9, class: "node-name", "text-anchor": "middle" },
          group,
          `x[${j}]`,
        );
        const input = find(0, e, "givenx", 0, [j]);
        valueText(group, input, cx, cy + 5, "given input");
        continue;
      }
      el(
        "text",
        { x: cx - 14, y: cy - R - 9, class: "node-name", "text-anchor": "start" },
        group,
        `a${l}[${j}]`,
      );
      const a = find(step, e, "a", l, [j]);
      if (a && reached(a)) valueText(group, a, cx, cy + 5, "activation");
      // below: z, then δ once the backward pass has reached this layer
      const z = find(step, e, "z", l, [j]);
      if (z && reached(z)) chip(group, "z", z, cx - 22, cy + R + 18, "pre", "start");
      const delta = find(step, e, "δ", l, [j]);
      if (delta && reached(delta)) chip(group, "δ", delta, cx - 22, cy + R + 37, "delta", "start");
      // the bias, left above the neuron: b, then dL/db, then the new b
      const bias = find(step, 0, "givenb", l, [j]);
      let biasShown = bias;
      let biasName = "b";
      let biasClass = "bias";
      if (showing === "gradient") {
        biasShown = find(step, 0, "dL/db", l, [j]);
        biasName = "∂b";
        biasClass = "bias gradient";
      } else if (showing === "update") {
        biasShown = find(step, 0, "θ", l, [j]) || bias; // a bias's θ has one index, W's two
        biasClass = biasShown === bias ? "bias frozen" : "bias updated";
      }
      const b = chip(group, biasName, biasShown, cx + 26, cy - R - 9, biasClass, "start");
      b.dataset.bias = `b${l}[${j}]`;
    }
  }
  svg.addEventListener("click", onDrawingClick);
  svg.addEventListener("mousemove", onDrawingHover);
  svg.addEventListener("mouseover", (event) => hoverWeight(event.target.closest("[data-weight]")));
  svg.addEventListener("mouseleave", () => (ui.tooltip.hidden = true));
}

function chip(parent, label, value, x, y, cls, anchor = "middle") {
  // "z 0.49": the symbol, then the number (the number alone carries the value's id)
  const text = el("text", { x, y, class: `chip ${cls}`, "text-anchor": anchor }, parent);
  el("tspan", { class: "chip-name" }, text, `${label} `);
  const number = el("tspan", { class: "val chip-value" }, text, shown(value));
  number.dataset.id = value.id;
  number.dataset.name = value.name;
  markVerdict(number, value);
  return text;
}

function pathHighlight() {
  const weights = new Set();
  const neurons = new Set();
  if (state.paths && state.selected && state.selected.kind === "weight") {
    const example = state.paths.examples[Math.min(state.example, state.paths.examples.length) - 1];
    example.paths.forEach((path, i) => {
      if (state.focusPath !== null && state.focusPath !== i) return;
      path.weights.forEach((w) => weights.add(w));
      path.neurons.forEach((n) => neurons.add(n));
    });
  }
  return { weights, neurons };
}

function isSelected(kind, name) {
  return state.selected && state.selected.kind === kind && state.selected.name === name;
}

// ---------------------------------------------------------------- clicking and hovering

function hoverWeight(node) {
  // hovering a weight's number lights its edge, so a label is never read off the wrong line
  ui.drawing.querySelectorAll(".edge.hover").forEach((edge) => edge.classList.remove("hover"));
  if (!node) return;
  const name = CSS.escape(node.dataset.weight);
  ui.drawing
    .querySelectorAll(`line[data-weight="${name}"]`)
    .forEach((edge) => edge.classList.add("hover"));
}

function valueUnder(target) {
  const node = target.closest("[data-id]");
  return node ? byId.get(node.dataset.id) : null;
}

function onDrawingHover(event) {
  const value = valueUnder(event.target);
  if (!value || practised(value)) {
    ui.tooltip.hidden = true;
    return;
  }
  ui.tooltip.textContent = value.line || `${value.name} = ${value.text}`;
  ui.tooltip.hidden = false;
  const box = ui.tooltip.getBoundingClientRect();
  const x = Math.min(event.clientX + 14, window.innerWidth - box.width - 8);
  ui.tooltip.style.left = `${x + window.scrollX}px`;
  ui.tooltip.style.top = `${event.clientY + 18 + window.scrollY}px`;
}

function onDrawingClick(event) {
  const target = event.target;
  const weight = target.closest("[data-weight]");
  if (weight) return select({ kind: "weight", name: weight.dataset.weight });
  const bias = target.closest("[data-bias]");
  if (bias) return select({ kind: "bias", name: bias.dataset.bias, id: valueUnder(target)?.id });
  if (target.closest("[data-select='loss']")) return select({ kind: "loss", name: "L" });
  const value = valueUnder(target);
  if (value && (value.kind === "x" || value.kind === "y"))
    return select({ kind: "given", name: value.name, id: value.id });
  const neuron = target.closest("[data-neuron]");
  if (neuron) {
    const [l, j] = neuron.dataset.neuron.split(":").map(Number);
    if (l === 0) {
      const input = find(0, state.example, "givenx", 0, [j]);
      return select({ kind: "given", name: input.name, id: input.id });
    }
    return select({ kind: "neuron", name: neuron.dataset.neuron, id: value ? value.id : null });
  }
}

function select(selection) {
  state.selected = selection;
  state.paths = null;
  state.focusPath = null;
  renderAll();
  if (selection.kind === "weight") fetchPaths(selection.name);
  if (state.mode === "practice") focusAnswer(selection);
}

async function fetchPaths(name) {
  const asked = state.version;
  try {
    const answer = await post("/api/step/paths", {
      ...state.source,
      parameter: name,
      step: currentStep(),
    });
    if (asked !== state.version || !isSelected("weight", name)) return;
    state.paths = answer;
    renderAll();
  } catch (error) {
    if (isSelected("weight", name)) {
      state.paths = { error: error.message };
      renderDetails();
    }
  }
}

// ---------------------------------------------------------------- the details panel

function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function lineOf(value, highlight = false) {
  // explain's own line for a value; in practice mode only its general formula until revealed
  const row = h("div", { class: `line${highlight ? " highlight" : ""}`, "data-id": value.id });
  if (practised(value) && !state.revealed?.has(value.name)) {
    row.classList.add("hidden-line");
    const answer = state.answers[value.name];
    const verdict = state.verdicts[value.name];
    row.append(h("span", { class: "mono" }, `${value.name} = ${answer ?? "?"}`));
    if (verdict) row.append(verdictBadge(verdict));
    return row;
  }
  row.append(h("span", { class: "mono" }, value.line || `${value.name} = ${value.text}`));
  return row;
}

function formulaBlock(formulas, notes = []) {
  const box = h("div", { class: "general" });
  for (const formula of formulas) box.append(h("div", { class: "mono formula" }, formula));
  for (const note of notes) box.append(h("p", { class: "note" }, note));
  return box;
}

function renderDetails() {
  const record = state.record;
  const s = state.selected;
  ui.details.textContent = "";
  if (!s) {
    ui.detailsTitle.textContent = "Click any number";
    ui.details.append(
      h(
        "p",
        { class: "muted" },
        "Click (or hover) a value on the drawing to see its formula and arithmetic, exactly as ",
        h("code", {}, "chainrule explain"),
        " prints it. Click a weight to see every chain-rule path that reaches it.",
      ),
      h("p", { class: "muted" }, "Summary: ", record.summary.join(" ")),
    );
    return;
  }
  const step = currentStep();
  const e = state.example;
  if (s.kind === "neuron") {
    const [l, j] = s.name.split(":").map(Number);
    ui.detailsTitle.textContent = `Neuron a${l}[${j}]`;
    const values = neuronValues(step, e, l, j).filter(reached);
    const forward = values.filter((v) => v.phase.includes(":forward:"));
    const backward = values.filter((v) => v.phase.includes(":backward:"));
    if (forward.length) {
      ui.details.append(h("h3", {}, "Forward pass · ", forward[0].block));
      ui.details.append(formulaBlock(forward[0].formulas));
      const lines = new Set();
      for (const v of forward) {
        if (v.shown_in && !practised(v)) {
          ui.details.append(
            h(
              "p",
              { class: "note" },
              `${v.name} = ${v.text} is the sum inside ${v.shown_in}'s line:`,
            ),
          );
          continue;
        }
        if (!lines.has(v.line) || practised(v)) ui.details.append(lineOf(v, s.id === v.id));
        lines.add(v.line);
      }
    }
    if (backward.length) {
      ui.details.append(h("h3", {}, "Backward pass · ", backward[0].block));
      ui.details.append(formulaBlock(backward[0].formulas));
      for (const v of backward) ui.details.append(lineOf(v, s.id === v.id));
    }
    const bias = find(step, 0, "givenb", l, [j]);
    ui.details.append(h("h3", {}, "Bias"));
    ui.details.append(biasLines(step, l, j, bias));
    return;
  }
  if (s.kind === "bias") {
    const [, l, j] = s.name.match(/^b(\d+)\[(\d+)\]$/).map(Number);
    ui.detailsTitle.textContent = `Bias ${s.name}`;
    ui.details.append(biasLines(step, l, j, find(step, 0, "givenb", l, [j])));
    return;
  }
  if (s.kind === "weight") {
    const [, l, j, k] = s.name.match(/^W(\d+)\[(\d+),(\d+)\]$/).map(Number);
    ui.detailsTitle.textContent = `Weight ${s.name}`;
    const weight = find(step, 0, "givenW", l, [j, k]);
    ui.details.append(
      h(
        "p",
        { class: "note" },
        `connects ${l === 1 ? `x[${k}]` : `a${l - 1}[${k}]`} to neuron ${j} of layer ${l}; at the start of step ${step}: `,
        h("span", { class: "mono" }, weight.line),
        ` (${weight.block})`,
      ),
    );
    ui.details.append(editor(weight));
    const gradient = find(step, 0, "dL/dW", l, [j, k]);
    if (gradient && reached(gradient)) {
      ui.details.append(h("h3", {}, "Gradient"));
      ui.details.append(formulaBlock(gradient.formulas));
      ui.details.append(lineOf(gradient, true));
    }
    const updates = findAll(step, 0, "state", l, [j, k]).concat(findAll(step, 0, "θ", l, [j, k]));
    if (updates.length && reached(updates[0])) {
      ui.details.append(h("h3", {}, "Update"));
      for (const v of updates) ui.details.append(lineOf(v));
    }
    ui.details.append(pathsBlock());
    return;
  }
  if (s.kind === "loss") {
    ui.detailsTitle.textContent = "The loss L";
    const phase = record.phases[phaseAt.get(`${step}:loss`)];
    ui.details.append(formulaBlock(phase.formulas, phase.notes));
    const losses = record.values.filter((v) => v.kind === "L" && v.step === step);
    if (!reached(losses[0]))
      ui.details.append(h("p", { class: "muted" }, "Not reached yet: step on to the loss."));
    else for (const v of losses) ui.details.append(lineOf(v, true));
    return;
  }
  if (s.kind === "given") {
    const value = byId.get(s.id);
    ui.detailsTitle.textContent =
      value.kind === "x" ? `Input ${value.name}` : `Target ${value.name}`;
    ui.details.append(
      h("p", { class: "note" }, h("span", { class: "mono" }, value.line), ` (${value.block})`),
    );
    ui.details.append(editor(value));
  }
}

function biasLines(step, l, j, bias) {
  const box = h("div");
  box.append(
    h(
      "p",
      { class: "note" },
      h("span", { class: "mono" }, bias.line),
      ` (${bias.block}${bias.trainable ? "" : "; frozen"})`,
    ),
  );
  box.append(editor(bias));
  const gradient = find(step, 0, "dL/db", l, [j]);
  if (gradient && reached(gradient)) box.append(lineOf(gradient));
  const updates = findAll(step, 0, "state", l, [j]).concat(findAll(step, 0, "θ", l, [j]));
  if (updates.length && reached(updates[0])) for (const v of updates) box.append(lineOf(v));
  return box;
}

function editor(value) {
  // a given number of the spec (x, y, W or b at step 1) can be changed: the spec is posted back
  if (!value.path) {
    return h("p", { class: "muted" }, "Change the spec's numbers at step 1 (Back to the start).");
  }
  const input = h("input", {
    type: "text",
    value: value.text,
    className: "number",
    inputMode: "decimal",
  });
  input.setAttribute("aria-label", `new value of ${value.name}`);
  const button = h("button", { type: "button" }, "Set");
  const apply = () => {
    const text = input.value.trim();
    const number = Number(text);
    setSpec(value.path, text !== "" && Number.isFinite(number) ? number : text);
  };
  button.addEventListener("click", apply);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") apply();
  });
  return h("div", { class: "edit" }, h("label", {}, `${value.name} = `, input), button);
}

function pathsBlock() {
  const box = h("div", { class: "paths" });
  box.append(h("h3", {}, "Chain-rule paths"));
  if (!state.paths) {
    box.append(h("p", { class: "muted" }, "finding the paths…"));
    return box;
  }
  if (state.paths.error) {
    box.append(h("p", { class: "yaml-error" }, state.paths.error));
    return box;
  }
  const answer = state.paths;
  if (state.mode === "practice") {
    // the paths' numbers are the answers; their routes, lit on the drawing, are the hint
    const count = answer.examples[0].paths.length;
    box.append(
      h(
        "p",
        { class: "note" },
        `${count} path${count === 1 ? "" : "s"} from L to ${answer.parameter}, lit on the drawing: dL/d${answer.parameter} is the sum of their products. Their numbers show in Explore mode.`,
      ),
    );
    return box;
  }
  const example = Math.min(state.example, answer.examples.length);
  // the sum first (the answer to "what is dL/dW?"), then each path explain lists
  const isPaths = (block) => block.title.startsWith("Paths from");
  const blocks = [...answer.blocks.filter((b) => !isPaths(b)), ...answer.blocks.filter(isPaths)];
  const m = answer.examples.length;
  blocks.forEach((block) => {
    // a batch prints one block of paths per example: show the drawn example's
    const perExample = block.title.match(/, example (\d+) of/);
    if (perExample && Number(perExample[1]) !== example) return;
    box.append(h("div", { class: "block-title" }, block.title));
    block.notes.forEach((note) => box.append(h("p", { class: "note" }, note)));
    block.equations.forEach((line, i) => {
      const row = h("div", { class: "line path-line" }, h("span", { class: "mono" }, line));
      if (isPaths(block)) {
        row.dataset.path = String(i);
        row.addEventListener("mouseenter", () => focusPath(i));
        row.addEventListener("mouseleave", () => focusPath(null));
      } else {
        row.classList.add("highlight");
      }
      box.append(row);
    });
  });
  if (m > 1)
    box.append(h("p", { class: "muted" }, `The drawing lights the paths of example ${example}.`));
  return box;
}

function focusPath(index) {
  state.focusPath = index;
  draw();
}

// ---------------------------------------------------------------- the stepper

function renderStepper() {
  const record = state.record;
  const phase = currentPhase();
  const limit = lastPhase();
  ui.phaseTitle.textContent = "";
  const stepText =
    record.network.steps > 1 ? `Step ${phase.step} of ${record.network.steps} · ` : "";
  ui.phaseTitle.append(h("strong", {}, stepText + phase.title));
  ui.phaseTitle.dataset.phase = phase.id;
  ui.first.disabled = ui.back.disabled = state.phase === 0;
  ui.next.disabled = ui.last.disabled = state.phase >= limit;
  ui.phases.textContent = "";
  let stepGroup = null;
  record.phases.forEach((p, i) => {
    if (i > limit) return;
    if (record.network.steps > 1 && (stepGroup === null || stepGroup !== p.step)) {
      stepGroup = p.step;
      ui.phases.append(h("li", { class: "step-label" }, `step ${p.step}`));
    }
    const label = {
      forward: `a${p.layer}`,
      loss: "L",
      backward: `δ${p.layer}`,
      gradients: "∂L/∂W",
      update: "update",
    }[p.part];
    const item = h(
      "li",
      {},
      h("button", { type: "button", title: p.title, className: `chip-${p.part}` }, label),
    );
    if (i === state.phase) item.classList.add("current");
    if (i < state.phase) item.classList.add("done");
    item.firstChild.addEventListener("click", () => go(i));
    ui.phases.append(item);
  });
  ui.phaseFormulas.textContent = "";
  ui.phaseFormulas.append(formulaBlock(phase.formulas, phase.notes));
  if (phase.part === "update") {
    const step = record.steps[phase.step - 1];
    ui.phaseFormulas.append(
      h("p", { class: "note check" }, step.passed ? "✓ " : "✗ ", step.verification.join(" ")),
    );
  }
}

function lastPhase() {
  // practice grades step 1 (as check does)
  if (state.mode !== "practice") return state.record.phases.length - 1;
  return state.record.phases.filter((p) => p.step === 1).length - 1;
}

function go(index) {
  const previousStep = currentStep();
  state.phase = Math.max(0, Math.min(index, lastPhase()));
  if (state.selected && state.selected.kind === "weight" && currentStep() !== previousStep) {
    state.paths = null;
    fetchPaths(state.selected.name);
  }
  renderAll();
}

// ---------------------------------------------------------------- practice mode

function setMode(mode) {
  if (mode === "practice" && state.record.practice) {
    showError(`Practice is off for this spec: ${state.record.practice}.`);
    return;
  }
  state.mode = mode;
  state.revealed = new Set();
  state.selected = null;
  state.paths = null;
  ui.explore.setAttribute("aria-checked", String(mode === "explore"));
  ui.practice.setAttribute("aria-checked", String(mode === "practice"));
  document.body.classList.toggle("practising", mode === "practice");
  ui.practicePanel.hidden = mode !== "practice";
  if (mode === "practice") {
    state.phase = Math.min(state.phase, lastPhase());
    state.example = 1;
  }
  renderAll();
}

function practiceValues() {
  // the numbers of this stop that check grades, in explain's order (z before its a)
  const phase = currentPhase();
  const names = new Set(state.record.practice_names);
  return state.record.values.filter((v) => v.phase === phase.id && names.has(v.name));
}

function verdictBadge(verdict) {
  const text =
    { right: "right", follows: "follows", wrong: "wrong" }[verdict.verdict] || verdict.verdict;
  return h(
    "span",
    { class: `badge verdict-${verdict.verdict}`, title: verdict.verdict_text },
    text,
  );
}

function verdictMessage(verdict) {
  // check's words: "follows from your value of dL/da3[1]", "wrong: <mistake>", and why
  if (verdict.verdict === "right") return null;
  const words = verdict.message
    ? `${verdict.verdict_text}. ${verdict.message}`
    : verdict.verdict_text;
  return h("div", { class: `message verdict-${verdict.verdict}` }, words);
}

function renderPractice() {
  if (state.mode !== "practice") return;
  ui.practiceList.textContent = "";
  const counts = { right: 0, follows: 0, wrong: 0 };
  Object.values(state.verdicts).forEach((v) => (counts[v.verdict] = (counts[v.verdict] || 0) + 1));
  ui.practiceSummary.textContent = "";
  if (Object.keys(state.verdicts).length) {
    ui.practiceSummary.append(
      h(
        "p",
        { class: "counts" },
        h("span", { class: "badge verdict-right" }, `${counts.right} right`),
        " ",
        h("span", { class: "badge verdict-follows" }, `${counts.follows} follow from a slip`),
        " ",
        h("span", { class: "badge verdict-wrong" }, `${counts.wrong} wrong`),
      ),
    );
    if (state.firstWrong) {
      const v = state.verdicts[state.firstWrong];
      const jump = h("button", { type: "button", className: "link" }, state.firstWrong);
      jump.addEventListener("click", () => jumpTo(state.firstWrong));
      ui.practiceSummary.append(
        h(
          "p",
          { class: "first-wrong-note", id: "first-wrong" },
          "First wrong step: ",
          jump,
          ` — ${v.verdict_text}`,
          v.message ? h("span", { class: "message" }, `. ${v.message}`) : null,
        ),
      );
    }
  }
  const phase = currentPhase();
  ui.practiceList.append(h("div", { class: "block-title" }, phase.title));
  ui.practiceList.append(formulaBlock(phase.formulas));
  const table = h("div", { class: "answers" });
  for (const value of practiceValues()) {
    const input = h("input", {
      type: "text",
      value: state.answers[value.name] ?? "",
      className: "number",
      inputMode: "decimal",
    });
    input.dataset.name = value.name;
    input.setAttribute("aria-label", `your value of ${value.name}`);
    input.addEventListener("input", () => {
      const text = input.value.trim();
      if (text) state.answers[value.name] = text;
      else delete state.answers[value.name];
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") runCheck();
    });
    input.addEventListener("focus", () => highlightOnDrawing(value.id));
    const verdict = state.verdicts[value.name];
    const row = h(
      "div",
      {
        class: `answer${state.firstWrong === value.name ? " first-wrong" : ""}`,
        "data-name": value.name,
      },
      h("label", { class: "mono" }, value.name),
      input,
      verdict ? verdictBadge(verdict) : h("span"),
    );
    const message = verdict ? verdictMessage(verdict) : null;
    if (message) row.append(message);
    if (state.revealed.has(value.name))
      row.append(h("div", { class: "mono revealed" }, value.line));
    else if (verdict && verdict.verdict !== "right") {
      const reveal = h("button", { type: "button", className: "link" }, "show the worked line");
      reveal.addEventListener("click", () => {
        state.revealed.add(value.name);
        renderAll();
      });
      row.append(reveal);
    }
    table.append(row);
  }
  ui.practiceList.append(table);
}

function highlightOnDrawing(id) {
  ui.drawing.querySelectorAll(".val.focus").forEach((n) => n.classList.remove("focus"));
  ui.drawing
    .querySelectorAll(`[data-id="${CSS.escape(id)}"]`)
    .forEach((n) => n.classList.add("focus"));
}

function focusAnswer(selection) {
  const id = selection.id;
  if (!id) return;
  const value = byId.get(id);
  if (!value || !practised(value)) return;
  const input = ui.practiceList.querySelector(`input[data-name="${CSS.escape(value.name)}"]`);
  if (input) input.focus();
}

function jumpTo(name) {
  const value = state.record.values.find((v) => v.name === name && v.step === 1 && v.phase);
  if (!value) return;
  go(phaseAt.get(value.phase));
  const input = ui.practiceList.querySelector(`input[data-name="${CSS.escape(name)}"]`);
  if (input) input.focus();
}

async function runCheck() {
  if (!Object.keys(state.answers).length) {
    ui.practiceSummary.textContent = "Type a number first.";
    return;
  }
  const asked = state.version;
  try {
    const result = await post("/api/step/check", { ...state.source, answers: state.answers });
    if (asked !== state.version) return;
    state.verdicts = Object.fromEntries(result.quantities.map((q) => [q.name, q]));
    state.firstWrong = result.first_wrong;
    hideError();
    renderAll();
    const focused = document.activeElement;
    if (focused && focused.dataset && focused.dataset.name) {
      const again = ui.practiceList.querySelector(
        `input[data-name="${CSS.escape(focused.dataset.name)}"]`,
      );
      if (again) again.focus();
    }
  } catch (error) {
    showError(error.message);
  }
}

// ---------------------------------------------------------------- the controls

function setIn(object, path, value) {
  let node = object;
  for (const part of path.slice(0, -1)) node = node[part];
  node[path[path.length - 1]] = value;
}

function setSpec(path, value) {
  const spec = structuredClone(state.record.spec);
  setIn(spec, path, value);
  load({ spec }, { keepPhase: true });
}

function changeSpec(change) {
  const spec = structuredClone(state.record.spec);
  change(spec);
  load({ spec }, { keepPhase: true });
}

function menu(options, current, onChange, label) {
  const menu = h("select", {});
  menu.setAttribute("aria-label", label);
  for (const option of options)
    menu.append(
      h("option", { value: option.name, selected: option.name === current }, option.label),
    );
  menu.addEventListener("change", () => onChange(menu.value));
  return menu;
}

function renderControls() {
  const record = state.record;
  const spec = record.spec;
  const choices = record.choices;
  ui.controls.textContent = "";
  spec.layers.forEach((layer, i) => {
    const name = typeof layer.activation === "string" ? layer.activation : layer.activation.name;
    const canonical = record.network.layers[i].activation;
    ui.controls.append(
      h(
        "label",
        {},
        `layer ${i + 1} activation`,
        menu(
          choices.activations,
          canonical || name,
          (value) => changeSpec((s) => (s.layers[i].activation = value)),
          `layer ${i + 1} activation`,
        ),
      ),
    );
  });
  ui.controls.append(
    h(
      "label",
      {},
      "loss",
      menu(
        choices.losses,
        spec.loss.name,
        (value) =>
          changeSpec((s) => {
            s.loss = value === "mse" ? { name: "mse", reduction: "mean" } : { name: value };
          }),
        "loss",
      ),
    ),
  );
  if (spec.loss.name === "mse") {
    const reductions = ["mean", "sum", "half_sum"].map((r) => ({
      name: r,
      label: r.replace("_", " "),
    }));
    ui.controls.append(
      h(
        "label",
        {},
        "reduction",
        menu(
          reductions,
          spec.loss.reduction,
          (value) => changeSpec((s) => (s.loss.reduction = value)),
          "mse reduction",
        ),
      ),
    );
  }
  ui.controls.append(
    h(
      "label",
      {},
      "optimizer",
      menu(
        choices.optimizers,
        spec.optimizer.name,
        (value) =>
          changeSpec((s) => {
            s.optimizer = { name: value, learning_rate: s.optimizer.learning_rate };
          }),
        "optimizer",
      ),
    ),
  );
  ui.controls.append(
    numberControl("learning rate", spec.optimizer.learning_rate, ["optimizer", "learning_rate"]),
  );
  ui.controls.append(numberControl("steps", spec.steps, ["steps"]));
  const biases = h("input", {
    type: "checkbox",
    checked: !(spec.update && spec.update.biases === false),
  });
  biases.addEventListener("change", () =>
    changeSpec((s) => {
      s.update = { ...(s.update || {}), biases: biases.checked };
    }),
  );
  ui.controls.append(h("label", { class: "check" }, biases, " update the biases"));
}

function numberControl(label, value, path) {
  const input = h("input", {
    type: "text",
    value: String(value),
    className: "number",
    inputMode: "decimal",
  });
  input.setAttribute("aria-label", label);
  input.addEventListener("change", () => {
    const text = input.value.trim();
    const number = Number(text);
    setSpec(path, text !== "" && Number.isFinite(number) ? number : text);
  });
  return h("label", {}, label, input);
}

// ---------------------------------------------------------------- putting it together

function renderHeader() {
  const record = state.record;
  ui.title.textContent = record.title;
  ui.overview.textContent = record.overview.filter((line) => !line.startsWith("Layout:")).join(" ");
  ui.examplePicker.hidden = record.network.examples === 1 || state.mode === "practice";
  ui.exampleIndex.textContent = "";
  for (let i = 1; i <= record.network.examples; i += 1) {
    ui.exampleIndex.append(
      h(
        "option",
        { value: String(i), selected: i === state.example },
        `${i} of ${record.network.examples}`,
      ),
    );
  }
  ui.legend.textContent = "";
  const entries = [
    ["legend-forward", "forward: z and a"],
    ["legend-back", "backward: δ"],
    ["legend-gradient", "gradients"],
    ["legend-update", "updated"],
  ];
  for (const [cls, text] of entries) ui.legend.append(h("span", { class: cls }, text));
  const part = currentPhase().part;
  const edges =
    part === "gradients"
      ? "dL/dW (and dL/db over each neuron)"
      : part === "update"
        ? "the weights after the update"
        : "the weights W";
  ui.legend.append(h("em", { class: "edges-caption" }, `numbers on the edges: ${edges}`));
}

function renderAll() {
  if (!state.record) return;
  renderHeader();
  draw();
  renderStepper();
  renderDetails();
  renderPractice();
  renderControls();
  document.body.dataset.phase = currentPhase().id;
}

async function start() {
  ui.first.addEventListener("click", () => go(0));
  ui.back.addEventListener("click", () => go(state.phase - 1));
  ui.next.addEventListener("click", () => go(state.phase + 1));
  ui.last.addEventListener("click", () => go(lastPhase()));
  ui.explore.addEventListener("click", () => setMode("explore"));
  ui.practice.addEventListener("click", () => setMode("practice"));
  ui.check.addEventListener("click", runCheck);
  ui.resetAnswers.addEventListener("click", () => {
    state.answers = {};
    state.verdicts = {};
    state.firstWrong = null;
    state.revealed = new Set();
    renderAll();
  });
  ui.exampleIndex.addEventListener("change", () => {
    state.example = Number(ui.exampleIndex.value);
    renderAll();
  });
  ui.toggleEditor.addEventListener("click", () => {
    ui.editor.hidden = !ui.editor.hidden;
    ui.toggleEditor.setAttribute("aria-expanded", String(!ui.editor.hidden));
    if (!ui.editor.hidden) ui.yaml.focus();
  });
  ui.applyYaml.addEventListener("click", () => load({ yaml: ui.yaml.value }, { fromEditor: true }));
  ui.example.addEventListener("change", () => {
    if (ui.example.value) load({ example: ui.example.value });
  });
  document.addEventListener("keydown", (event) => {
    if (!state.record || event.target.closest("input, textarea, select")) return;
    if (event.key === "ArrowRight") go(state.phase + 1);
    else if (event.key === "ArrowLeft") go(state.phase - 1);
    else if (event.key === "Home") go(0);
    else if (event.key === "End") go(lastPhase());
    else return;
    event.preventDefault();
  });
  state.revealed = new Set();
  let examples = [];
  let starter = "";
  try {
    const response = await fetch("/api/step/examples");
    ({ examples, starter } = await response.json());
  } catch (error) {
    showError(`cannot list the examples: ${error.message}`);
  }
  for (const example of examples) {
    const option = h(
      "option",
      { value: example.name, disabled: !example.drawable },
      example.drawable ? example.title : `${example.title} (not drawable here)`,
    );
    if (!example.drawable) option.title = example.reason;
    ui.example.append(option);
  }
  const wanted = new URLSearchParams(window.location.search).get("example");
  const drawable = examples.filter((e) => e.drawable).map((e) => e.name);
  const first = drawable.includes(wanted)
    ? wanted
    : drawable.includes("relu-tanh-sigmoid-mse")
      ? "relu-tanh-sigmoid-mse"
      : drawable[0];
  if (first) {
    ui.example.value = first;
    await load({ example: first });
  } else if (starter) {
    // an installed chainrule has no examples/ folder: start from a small spec in the editor
    ui.yaml.value = starter;
    ui.editor.hidden = false;
    ui.toggleEditor.setAttribute("aria-expanded", "true");
    await load({ yaml: starter }, { fromEditor: true });
    showError(
      "No example specs here (they come with a source checkout of chainrule, in examples/). " +
        "This is a small one to start from: change it in the editor below, or paste any spec " +
        "file for chainrule explain, and press Work it out.",
    );
  }
}

start();
