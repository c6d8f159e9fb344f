// Impasto's page: builds its form from GET /api/options, submits a job, follows its events
// (GET /api/jobs/:id/events), shows each preview and the loss curve, cancels and downloads.
// Plain modules, no build step.

const MAIN = ['preset', 'size', 'strength', 'iterations', 'optimizer', 'seed', 'originalColors'];
const $ = (id) => document.getElementById(id);
let schema = [];
let job = null; // { id, losses: number[], total, stop(), cancel() }: the job the page follows

function field(opt) {
  const wrap = document.createElement('label');
  wrap.className = 'field';
  const title = document.createElement('span');
  title.textContent = opt.flag.slice(2);
  wrap.append(title);
  let input;
  const fallback = opt.defaultText ?? (opt.default !== undefined ? String(opt.default) : '');
  if (opt.choices || opt.type === 'boolean') {
    input = document.createElement('select');
    const choices = opt.choices ?? ['true', 'false'];
    input.append(new Option(`default${fallback ? ` (${fallback})` : ''}`, ''));
    for (const c of choices) input.append(new Option(c, c));
  } else {
    input = document.createElement('input');
    input.type = opt.type === 'number' || opt.type === 'int' ? 'number' : 'text';
    if (input.type === 'number') {
      input.step = opt.type === 'int' ? '1' : 'any';
      if (opt.min !== undefined) input.min = String(opt.min);
      if (opt.max !== undefined) input.max = String(opt.max);
    }
    input.placeholder = fallback;
  }
  input.name = opt.key;
  input.dataset.kind = opt.type;
  const doc = document.createElement('small');
  doc.textContent = opt.doc;
  wrap.append(input, doc);
  return wrap;
}

/** The options the user set: only non-empty fields, typed as the schema says. */
function chosenOptions() {
  const out = {};
  for (const opt of schema) {
    const el = document.querySelector(`[name="${opt.key}"]`);
    if (!el || el.value === '') continue;
    const v = el.value.trim();
    switch (opt.type) {
      case 'number': case 'int': out[opt.key] = Number(v); break;
      case 'boolean': out[opt.key] = v === 'true'; break;
      case 'numbers': out[opt.key] = v.split(',').map(Number); break;
      case 'strings': out[opt.key] = v.split(',').map((s) => s.trim()); break;
      default: out[opt.key] = v;
    }
  }
  return out;
}

function showFiles(input, target, single) {
  const urls = [...input.files].map((f) => URL.createObjectURL(f));
  if (single) {
    target.src = urls[0] ?? '';
    target.hidden = !urls.length;
  } else {
    target.replaceChildren(...urls.map((u) => Object.assign(document.createElement('img'), { src: u, alt: '' })));
  }
  input.parentElement.querySelector('.hint').hidden = urls.length > 0;
}

function setStatus(text) {
  $('status').textContent = text;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

function drawCurve(losses) {
  const c = $('curve');
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const pts = losses.filter((v) => v > 0 && Number.isFinite(v));
  if (pts.length < 2) return;
  const logs = pts.map(Math.log10);
  const lo = Math.min(...logs), hi = Math.max(...logs);
  const pad = 24, w = c.width - 2 * pad, h = c.height - 2 * pad;
  g.strokeStyle = '#ccc';
  g.strokeRect(pad, pad, w, h);
  g.fillStyle = '#555';
  g.font = '11px system-ui';
  g.fillText(pts[0].toExponential(2), pad + 2, pad - 6);
  g.fillText(pts.at(-1).toExponential(2), c.width - pad - 60, c.height - 6);
  g.strokeStyle = '#a0522d';
  g.lineWidth = 2;
  g.beginPath();
  logs.forEach((v, i) => {
    const x = pad + (i / (logs.length - 1)) * w;
    const y = pad + (hi === lo ? h / 2 : ((hi - v) / (hi - lo)) * h);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke();
}

function finish(status) {
  $('start').disabled = false;
  $('cancel').disabled = true;
  job?.stop();
  const words = { done: 'Done', failed: 'Failed', cancelled: 'Cancelled' };
  setStatus(`${words[status.status]}${status.loss !== null ? `: loss ${status.loss.toExponential(3)}` : ''} after ${status.iteration} iterations`);
  if (status.error) showError(status.error);
  if (status.download) {
    $('download').href = status.download;
    $('download').hidden = false;
  }
}

/** One job event, from the server's stream or the device worker: updates the page. */
function handle(type, e) {
  switch (type) {
    case 'status': {
      const s = e.job;
      if (s.status === 'queued') setStatus('Waiting for the jobs ahead of it…');
      else if (s.status === 'running') setStatus('Starting…');
      else finish({ ...s, download: s.hasImage ? `/api/jobs/${s.id}/image?download=1` : null });
      break;
    }
    case 'stage': setStatus(`${e.stage}…`); break;
    case 'notice': {
      const li = document.createElement('li');
      li.textContent = e.message;
      $('notices').append(li);
      break;
    }
    case 'scale':
      $('caption').textContent = `scale ${e.index + 1} of ${e.count}: ${e.width}×${e.height}${e.blocks ? `, in ${e.blocks} blocks` : ''}`;
      break;
    case 'start': job.total = e.iterations; break;
    case 'iterate':
      job.losses.push(e.loss);
      drawCurve(job.losses);
      setStatus(`Iteration ${e.iteration} of ${job.total}: loss ${e.loss.toExponential(3)}`);
      break;
    case 'preview': {
      const img = $('preview');
      img.src = e.url;
      img.hidden = false;
      break;
    }
  }
}

/** Follows a server job through its event stream. */
function follow(id) {
  const source = new EventSource(`/api/jobs/${id}/events`);
  job = { id, losses: [], total: 0, stop: () => source.close(), cancel: () => fetch(`/api/jobs/${id}`, { method: 'DELETE' }) };
  for (const type of ['status', 'stage', 'notice', 'scale', 'start', 'iterate', 'preview']) {
    source.addEventListener(type, (m) => handle(type, JSON.parse(m.data)));
  }
}

/** Runs the job in this browser: a module worker with the library and onnxruntime-web (wasm). */
function runOnDevice(content, styles, options, weights) {
  const worker = new Worker('/device-worker.js', { type: 'module' });
  let last = null;
  let cancelled = false;
  const urlOf = (png) => URL.createObjectURL(new Blob([png], { type: 'image/png' }));
  job = { id: null, losses: [], total: 0, stop: () => worker.terminate(), cancel: () => { cancelled = true; worker.postMessage({ type: 'cancel' }); } };
  worker.onmessage = (m) => {
    const d = m.data;
    if (d.type === 'event') {
      handle(d.event.type, d.event);
      if (d.event.type === 'iterate') last = d.event;
    } else if (d.type === 'preview') {
      handle('preview', { url: urlOf(d.png) });
    } else if (d.type === 'done') {
      const url = urlOf(d.png);
      handle('preview', { url });
      $('download').download = 'impasto-device.png';
      window.deviceResult = { loss: d.loss, iterations: d.iteration, threads: d.threads, backend: d.backend };
      finish({ status: cancelled ? 'cancelled' : 'done', loss: d.loss, iteration: d.iteration, download: url });
    } else if (d.type === 'failed') {
      finish({ status: cancelled ? 'cancelled' : 'failed', loss: last?.loss ?? null, iteration: last?.iteration ?? 0, error: cancelled ? null : d.message });
    }
  };
  worker.onerror = (err) => finish({ status: 'failed', loss: null, iteration: 0, error: `the device worker failed: ${err.message}` });
  worker.postMessage({ type: 'start', content, styles, options, imageEvery: 2, weights, weightsUrl: '/api/weights', backend: new URLSearchParams(location.search).get('backend') ?? 'auto' });
}

async function submit(ev) {
  ev.preventDefault();
  showError('');
  $('notices').replaceChildren();
  $('download').hidden = true;
  const form = new FormData();
  const content = $('content').files[0];
  const styles = [...$('style').files];
  if (!content || !styles.length) return showError('Choose a photo and at least one painting.');
  form.append('content', content, content.name);
  for (const s of styles) form.append('style', s, s.name);
  form.append('options', JSON.stringify(chosenOptions()));
  $('start').disabled = true;
  $('curve').getContext('2d').clearRect(0, 0, $('curve').width, $('curve').height);
  if ($('device').checked) {
    $('cancel').disabled = false;
    setStatus('Starting on this device…');
    return runOnDevice(content, styles, chosenOptions(), $('weights').files[0]);
  }
  setStatus('Uploading…');
  const res = await fetch('/api/jobs', { method: 'POST', body: form });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (res.status !== 202) {
    $('start').disabled = false;
    setStatus('');
    return showError(body.error);
  }
  $('cancel').disabled = false;
  $('download').removeAttribute('download');
  $('download').setAttribute('download', '');
  follow(body.id);
}

async function init() {
  const res = await fetch('/api/options');
  const { options, presets, device } = await res.json();
  $('device-choice').hidden = !device;
  $('device').addEventListener('change', () => { $('weights-choice').hidden = !$('device').checked; });
  schema = options;
  const byKey = Object.fromEntries(options.map((o) => [o.key, o]));
  for (const key of MAIN) if (byKey[key]) $('main-options').append(field(byKey[key]));
  for (const o of options) if (!MAIN.includes(o.key)) $('more-options').append(field(o));
  const preset = document.querySelector('[name="preset"]');
  for (const opt of preset.options) {
    const p = presets.find((q) => q.name === opt.value);
    if (p) opt.title = p.summary;
  }
  for (const [id, target, single] of [['content', document.querySelector('#content-drop img'), true], ['style', document.querySelector('#style-drop .thumbs'), false]]) {
    const input = $(id);
    input.addEventListener('change', () => showFiles(input, target, single));
    const drop = input.parentElement;
    drop.addEventListener('dragover', () => drop.classList.add('over'));
    for (const t of ['dragleave', 'drop']) drop.addEventListener(t, () => drop.classList.remove('over'));
  }
  $('job').addEventListener('submit', submit);
  $('cancel').addEventListener('click', async () => {
    if (!job) return;
    $('cancel').disabled = true;
    setStatus('Cancelling…');
    await job.cancel();
  });
}

init().catch((err) => showError(`The page could not load its options: ${err.message}`));
