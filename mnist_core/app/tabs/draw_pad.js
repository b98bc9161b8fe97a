// The Draw tab's canvas (gr.HTML js_on_load: `element`, `props`, `server` are Gradio's).
// Pointer events serve mouse, pen and finger alike; the CSS sets touch-action: none so a finger
// draws instead of scrolling. On pen-up (and at most every THROTTLE_MS while drawing, one request
// in flight) the drawing goes as a PNG data URL to the server function read_drawing, one plain POST
// outside Gradio's queue. Every request has a sequence number: an answer older than the one shown
// (or than the last Clear) is dropped, so what is shown is always the answer for the last stroke.
const THROTTLE_MS = 250;
const canvas = element.querySelector(".pad-canvas");
const overlay = element.querySelector(".pad-overlay");
const ctx = canvas.getContext("2d");
const strokes = [];  // each a list of [x, y] in canvas pixels
let current = null, seq = 0, shown = 0, inFlight = 0, lastSent = 0;
const timings = (window.drawPadTimings = window.drawPadTimings || []);

function pen() { return Math.max(8, Math.round(canvas.height / 13)); }

function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = pen();
  ctx.lineCap = ctx.lineJoin = "round";
  for (const s of strokes) line(s, 0);
}

function line(points, from) {
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(points[0][0], points[0][1], pen() / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(...points[Math.max(0, from - 1)]);
  for (let i = Math.max(1, from); i < points.length; i++) ctx.lineTo(...points[i]);
  ctx.stroke();
}

function fit() {  // canvas pixels = CSS pixels; the drawing is kept (scaled) across resizes
  const w = Math.round(canvas.clientWidth), h = Math.round(canvas.clientHeight);
  if (!w || !h || (w === canvas.width && h === canvas.height)) return;
  const sx = w / (canvas.width || w), sy = h / (canvas.height || h);
  for (const s of strokes) for (const p of s) { p[0] *= sx; p[1] *= sy; }
  canvas.width = w;
  canvas.height = h;
  overlay.replaceChildren();
  paint();
}
new ResizeObserver(fit).observe(canvas);

function answerBox() { return document.querySelector("#draw-result .draw-answer"); }

function showAnswer(html) {
  const box = answerBox();
  if (box) box.outerHTML = html;
}

function mark(digits, size) {
  overlay.replaceChildren();
  if (!size || size[0] !== canvas.width || size[1] !== canvas.height) return;
  for (const d of digits) {
    const [x0, y0, x1, y1] = d.box;
    const b = document.createElement("span");
    const refused = d.digit === null || d.digit === undefined;  // "not a digit": boxed with a "?"
    b.className = refused ? "pad-box refused" : "pad-box";
    b.dataset.kind = d.kind || "digit";
    b.style.cssText = `left:${x0}px;top:${y0}px;width:${x1 - x0}px;height:${y1 - y0}px`;
    const label = document.createElement("b");
    label.textContent = refused ? "?" : d.digit;
    b.appendChild(label);
    overlay.appendChild(b);
  }
}

function model() {
  const input = document.querySelector("#model-picker input");
  return input ? input.value : null;
}

async function send(penUp) {
  if (!strokes.length) return;
  const mine = ++seq, t = { seq: mine, penUp, start: performance.now() };
  const image = canvas.toDataURL("image/png");
  t.encoded = performance.now();
  inFlight++;
  lastSent = t.start;
  let reply;
  try {
    reply = await server.read_drawing({ image, model: model() });
  } catch (err) {
    reply = { html: null, error: String(err) };
  } finally {
    inFlight--;
  }
  t.received = performance.now();
  if (mine < shown) return;  // a newer answer (or a Clear) is already on screen
  shown = mine;
  if (reply.html) showAnswer(reply.html);
  mark(reply.digits || [], reply.size);
  t.shown = performance.now();
  t.server_ms = reply.server_ms;
  t.number = reply.number;
  timings.push(t);
  if (timings.length > 500) timings.shift();
}

function clear() {
  strokes.length = 0;
  current = null;
  shown = ++seq;  // answers still on their way are for the old drawing
  overlay.replaceChildren();
  paint();
  showAnswer(props.empty_html);
}

// A photo left in the upload box would sit beside an answer about the drawing: drawing empties the box
// (through the hidden #upload-reset button, whose event sets the box to nothing).
function emptyUpload() {
  if (document.querySelector("#upload img")) document.querySelector("#upload-reset")?.click();
}

canvas.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  canvas.setPointerCapture(e.pointerId);
  if (!strokes.length) emptyUpload();
  current = [[e.offsetX, e.offsetY]];
  strokes.push(current);
  line(current, 0);
});
canvas.addEventListener("pointermove", (e) => {
  if (!current) return;
  const from = current.length;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const c of events.length ? events : [e]) current.push([c.offsetX, c.offsetY]);
  line(current, from);
  if (!inFlight && performance.now() - lastSent > THROTTLE_MS) send(false);
});
function penUp() {
  if (!current) return;
  current = null;
  send(true);
}
canvas.addEventListener("pointerup", penUp);
canvas.addEventListener("pointercancel", penUp);
function undo() {
  strokes.pop();
  overlay.replaceChildren();
  paint();
  if (strokes.length) send(true);
  else clear();
}

// An upload or a random test digit answers about another image: the drawing goes, the answer stays.
function wipe() {
  strokes.length = 0;
  current = null;
  shown = ++seq;  // an answer on its way is about the old drawing
  overlay.replaceChildren();
  paint();
}

element.querySelector(".pad-clear").addEventListener("click", clear);
element.querySelector(".pad-undo").addEventListener("click", undo);
// Ctrl+Z (Cmd+Z on a Mac) undoes the last stroke while the Draw tab shows, unless a text field has the
// focus (its own undo comes first).
document.addEventListener("keydown", (e) => {
  if (!(e.ctrlKey || e.metaKey) || e.shiftKey || e.altKey || e.key.toLowerCase() !== "z") return;
  const target = e.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  if (!canvas.isConnected || !canvas.offsetParent || !strokes.length) return;  // another tab, or nothing drawn
  e.preventDefault();
  undo();
});
// The model picker re-reads the drawing with the new model; tests and benchmarks ask whether a request is out;
// "Explain this" (app.py) takes the drawing as the server last read it (null when the pad is blank).
const image = () => (strokes.length ? canvas.toDataURL("image/png") : null);
window.drawPad = { send, clear, wipe, image, busy: () => inFlight > 0 };
fit();
paint();
