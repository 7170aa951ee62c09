// The training page: draws the feed's snapshot and its changes (view/feed.ts),
// and classifies test images and drawings with the latest checkpoint in tfjs.
/* global tf */
import { applyEvent } from "/apply_event.js";
import { definePaddedMaxPooling2D } from "/padded_max_pool.js";

// GoogLeNet's checkpoints hold this layer (PyTorch's padded max-pool), which tfjs lacks.
definePaddedMaxPooling2D(tf);

const SIDE = 28;
const GRID_IMAGES = 24;
const SERIES = [
  { key: "loss", running: "loss", color: "#1f77b4", dash: "" },
  { key: "trainAccuracy", running: "accuracy", color: "#d62728", dash: "6 4" },
  { key: "testAccuracy", color: "#2ca02c", dash: "2 3" },
];

const $ = (id) => document.getElementById(id);
const page = { snapshot: undefined, images: undefined, model: undefined, modelVersion: 0 };
const drawing = { pixels: new Float32Array(SIDE * SIDE), active: false };

function element(tag, attributes = {}, text) {
  const node = document.createElementNS(
    tag === "svg" || attributes.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
    tag,
  );
  for (const [name, value] of Object.entries(attributes)) {
    if (name !== "svg") node.setAttribute(name, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatSeconds(seconds) {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
    : s >= 60
    ? `${Math.floor(s / 60)} min ${s % 60} s`
    : `${s} s`;
}

function renderHeader() {
  const { snapshot } = page;
  const { model, resize, batchSize, epochs } = snapshot.config;
  $("run").textContent =
    `${snapshot.run}: ${model} at ${resize}×${resize}, batch ${batchSize}, ${epochs} epochs`;
  $("lines").textContent = snapshot.lines.join("\n");
  $("status").textContent = snapshot.status;
}

function renderProgress() {
  const { progress, history, config } = page.snapshot;
  const done = history.length;
  if (!progress || (progress.done && progress.phase === "test" && progress.epoch === done)) {
    $("progress-bar").style.width = `${(100 * done) / config.epochs}%`;
    $("progress-text").textContent = done === 0
      ? "waiting for the first step…"
      : `${done} of ${config.epochs} epochs done`;
    return;
  }
  const fraction = progress.seen / progress.total;
  $("progress-bar").style.width = `${100 * fraction}%`;
  const rate = (progress.seen - progress.seenBefore) / Math.max(progress.seconds, 1e-9);
  const left = (progress.total - progress.seen) / rate;
  const loss = progress.loss === undefined ? "" : `, loss ${progress.loss.toFixed(4)}`;
  $("progress-text").textContent =
    `${
      progress.phase === "train" ? "epoch" : "testing after epoch"
    } ${progress.epoch}/${progress.epochs}: ${progress.seen}/${progress.total} images, ` +
    `${rate.toFixed(1)} images/s, ETA ${formatSeconds(left)}${loss}, acc ${
      progress.accuracy.toFixed(3)
    }`;
}

function renderCurves() {
  const { history, progress, config } = page.snapshot;
  const svg = $("curves");
  svg.replaceChildren();
  const margin = { left: 44, right: 12, top: 10, bottom: 34 };
  const width = 640 - margin.left - margin.right;
  const height = 300 - margin.top - margin.bottom;
  const running = progress && progress.phase === "train" && !progress.done
    ? { epoch: progress.epoch - 1 + progress.seen / progress.total, progress }
    : undefined;
  const losses = history.map((r) => r.loss).concat(running?.progress.loss ?? []);
  const top = Math.max(1, ...losses.filter(Number.isFinite));
  const x = (epoch) => margin.left + (width * epoch) / config.epochs;
  const y = (value) => margin.top + height * (1 - value / top);
  const add = (tag, attributes, text) =>
    svg.append(element(tag, { svg: true, ...attributes }, text));
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    add("line", {
      x1: margin.left,
      x2: margin.left + width,
      y1: y(value),
      y2: y(value),
      stroke: "#eee",
    });
    add(
      "text",
      { x: margin.left - 6, y: y(value) + 4, "text-anchor": "end", "font-size": 11 },
      value.toFixed(2),
    );
  }
  for (let epoch = 0; epoch <= config.epochs; epoch++) {
    add("text", {
      x: x(epoch),
      y: margin.top + height + 16,
      "text-anchor": "middle",
      "font-size": 11,
    }, epoch);
  }
  add(
    "text",
    { x: margin.left + width / 2, y: 296, "text-anchor": "middle", "font-size": 11 },
    "epoch",
  );
  add("rect", { x: margin.left, y: margin.top, width, height, fill: "none", stroke: "#888" });
  for (const series of SERIES) {
    const points = history.filter((r) => Number.isFinite(r[series.key])).map((
      r,
    ) => [x(r.epoch), y(r[series.key])]);
    const live = running && series.running ? running.progress[series.running] : undefined;
    const livePoint = Number.isFinite(live) ? [x(running.epoch), y(live)] : undefined;
    const line = livePoint ? points.concat([livePoint]) : points;
    if (line.length > 1) {
      add("polyline", {
        points: line.map((p) => p.join(",")).join(" "),
        fill: "none",
        stroke: series.color,
        "stroke-width": 2,
        "stroke-dasharray": series.dash,
        "data-series": series.key,
      });
    }
    for (const [cx, cy] of points) {
      add("circle", { cx, cy, r: 3, fill: series.color, "data-series": series.key });
    }
    if (livePoint) {
      add("circle", {
        cx: livePoint[0],
        cy: livePoint[1],
        r: 4,
        fill: "white",
        stroke: series.color,
        "stroke-width": 2,
      });
    }
  }
}

function renderEvaluation() {
  const { evaluation, classes } = page.snapshot;
  const table = $("confusion");
  table.replaceChildren();
  if (!evaluation) {
    $("evaluated").textContent = "(after the first epoch)";
    return;
  }
  const total = evaluation.confusion.flat().reduce((a, b) => a + b, 0);
  $("evaluated").textContent = `epoch ${evaluation.epoch}: ${total} test images, accuracy ${
    evaluation.accuracy.toFixed(3)
  }`;
  table.dataset.sum = String(total);
  const head = element("tr");
  head.append(element("th", {}, "true \\ pred."));
  classes.forEach((_, i) => head.append(element("th", { title: classes[i] }, String(i))));
  head.append(element("th", {}, "acc."));
  table.append(head);
  evaluation.confusion.forEach((row, truth) => {
    const rowTotal = row.reduce((a, b) => a + b, 0) || 1;
    const tr = element("tr");
    tr.append(element("th", {}, `${truth} ${classes[truth]}`));
    row.forEach((count, predicted) => {
      const share = count / rowTotal;
      const color = predicted === truth ? "44, 160, 44" : "214, 39, 40";
      const cell = element("td", {
        style: `background: rgba(${color}, ${Math.min(1, share * (predicted === truth ? 1 : 4))})`,
        title: `${classes[truth]} predicted as ${classes[predicted]}: ${count}`,
      }, String(count));
      tr.append(cell);
    });
    tr.append(element("td", {}, evaluation.perClass[truth].toFixed(3)));
    table.append(tr);
  });
  renderGrid();
}

function paint(canvas, pixels) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(pixels[i] * 255);
    image.data.set([v, v, v, 255], 4 * i);
  }
  if (canvas.width === SIDE) {
    context.putImageData(image, 0, 0);
    return;
  }
  const small = element("canvas", { width: SIDE, height: SIDE });
  small.getContext("2d").putImageData(image, 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function testPixels(index) {
  const { pixels } = page.images;
  return Float32Array.from(
    pixels.subarray(index * SIDE * SIDE, (index + 1) * SIDE * SIDE),
    (v) => v / 255,
  );
}

function renderGrid() {
  const grid = $("grid");
  grid.replaceChildren();
  if (!page.images) return;
  const { classes, evaluation } = page.snapshot;
  const predictions = evaluation?.firstPredictions ?? [];
  const count = Math.min(GRID_IMAGES, page.images.count);
  for (let index = 0; index < count; index++) {
    const truth = page.images.labels[index];
    const predicted = predictions[index];
    const figure = element("figure", {
      class: predicted === undefined || predicted === truth ? "" : "wrong",
      "data-index": index,
    });
    const canvas = element("canvas", { width: SIDE, height: SIDE });
    paint(canvas, testPixels(index));
    figure.append(canvas);
    figure.append(element("figcaption", {}, classes[truth]));
    if (predicted !== undefined && predicted !== truth) {
      figure.append(element("figcaption", {}, `→ ${classes[predicted]}`));
    }
    figure.addEventListener("click", () => showTestImage(index));
    grid.append(figure);
  }
}

function showTestImage(index) {
  if (!page.images) return;
  const clamped = Math.max(0, Math.min(page.images.count - 1, index | 0));
  $("index").value = clamped;
  drawing.pixels = testPixels(clamped);
  drawing.source = `test image ${clamped} (${page.snapshot.classes[page.images.labels[clamped]]})`;
  paint($("drawing"), drawing.pixels);
  classify();
}

async function pickBackend() {
  for (const name of ["webgpu", "webgl", "cpu"]) {
    if (name === "webgpu" && !navigator.gpu) continue;
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // The next one.
    }
  }
  return tf.getBackend();
}

async function loadModel() {
  const version = page.snapshot.checkpoint;
  if (!version || version === page.modelVersion) return;
  page.modelVersion = version;
  try {
    const model = await tf.loadLayersModel(`/checkpoint/model.json?v=${version}`);
    page.model?.dispose();
    page.model = model;
    const epochs = page.snapshot.history.length;
    $("model-note").textContent =
      `checkpoint after epoch ${epochs}, running in this browser on ${tf.getBackend()}`;
    classify();
  } catch (error) {
    page.modelVersion = 0;
    $("model-note").textContent = `could not load the checkpoint: ${error.message}`;
  }
}

async function classify() {
  const { model } = page;
  if (!model) return;
  const [, height, width] = model.inputs[0].shape;
  const probabilities = tf.tidy(() => {
    let x = tf.tensor4d(drawing.pixels, [1, SIDE, SIDE, 1]);
    if (height !== SIDE) x = tf.image.resizeBilinear(x, [height, width], false, true);
    return tf.softmax(model.predict(x));
  });
  const values = await probabilities.data();
  probabilities.dispose();
  const { classes } = page.snapshot;
  const best = values.indexOf(Math.max(...values));
  const prediction = $("prediction");
  prediction.dataset.class = String(best);
  prediction.dataset.source = drawing.source ?? "drawing";
  prediction.textContent = `${drawing.source ?? "your drawing"}: ${classes[best]} (${
    (100 * values[best]).toFixed(1)
  }%)`;
  const table = $("probabilities");
  table.replaceChildren();
  values.forEach((p, i) => {
    const row = element("tr", { class: i === best ? "top" : "" });
    row.append(element("td", {}, classes[i]));
    const bar = element("td", { style: "width: 60%" });
    bar.append(element("div", { class: "fill", style: `width: ${(100 * p).toFixed(1)}%` }));
    row.append(bar);
    row.append(element("td", {}, `${(100 * p).toFixed(1)}%`));
    table.append(row);
  });
}

function setUpDrawing() {
  const canvas = $("drawing");
  const context = canvas.getContext("2d");
  const clear = () => {
    context.fillStyle = "black";
    context.fillRect(0, 0, canvas.width, canvas.height);
    drawing.pixels = new Float32Array(SIDE * SIDE);
    drawing.source = undefined;
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [
      (event.clientX - box.left) * (canvas.width / box.width),
      (event.clientY - box.top) * (canvas.height / box.height),
    ];
  };
  const sample = () => {
    const small = element("canvas", { width: SIDE, height: SIDE });
    const smallContext = small.getContext("2d");
    smallContext.drawImage(canvas, 0, 0, SIDE, SIDE);
    const data = smallContext.getImageData(0, 0, SIDE, SIDE).data;
    drawing.pixels = Float32Array.from({ length: SIDE * SIDE }, (_, i) => data[4 * i] / 255);
    drawing.source = undefined;
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (drawing.source !== undefined) clear();
    drawing.active = true;
    canvas.setPointerCapture(event.pointerId);
    context.strokeStyle = "white";
    context.lineWidth = 24;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...at(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing.active) return;
    context.lineTo(...at(event));
    context.stroke();
  });
  canvas.addEventListener("pointerup", () => {
    drawing.active = false;
    sample();
    classify();
  });
  $("clear").addEventListener("click", clear);
  $("show").addEventListener("click", () => showTestImage(Number($("index").value)));
  clear();
}

function apply(event) {
  page.snapshot = applyEvent(page.snapshot, event);
  if (event.type === "snapshot" || event.type === "line" || event.type === "status") renderHeader();
  if (event.type === "snapshot" || event.type === "epoch") {
    renderEvaluation();
    loadModel();
  }
  renderProgress();
  renderCurves();
}

async function start() {
  setUpDrawing();
  const backend = pickBackend();
  const bytes = new Uint8Array(await (await fetch("/test-images")).arrayBuffer());
  const count = new DataView(bytes.buffer).getUint32(0, true);
  page.images = { count, labels: bytes.subarray(4, 4 + count), pixels: bytes.subarray(4 + count) };
  $("index").max = count - 1;
  await backend;
  const events = new EventSource("/events");
  events.onmessage = (message) => apply(JSON.parse(message.data));
  events.onerror = () => {
    if (page.snapshot) {
      $("status").textContent = `${page.snapshot.status} (the training process is not answering)`;
    }
  };
  events.onopen = () => page.snapshot && renderHeader();
}

start();
