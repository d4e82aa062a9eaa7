// expertune studio: small progressive enhancements. Every page works without this file.
"use strict";

// Keys typed into a text field are text, not shortcuts (a ticked checkbox keeps the shortcuts).
function typing(el) {
  if (el.isContentEditable || /^(TEXTAREA|SELECT)$/.test(el.tagName)) return true;
  return el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset)$/.test(el.type);
}

document.addEventListener("DOMContentLoaded", () => {
  // "select all" checkbox for the review queue
  for (const box of document.querySelectorAll("[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const b of document.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)) b.checked = box.checked;
    });
  }
  for (const link of document.querySelectorAll("[data-back]")) {
    link.addEventListener("click", (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } });
  }
  // Keyboard shortcuts (not while typing): on a response page a accept, r reject, 1-5 rate; on any
  // page, the key x clicks the element with data-key="x" (the blind review's A / B / T, the author
  // page's buttons), or moves the cursor into it when it is a field.
  const keys = { a: "#accept", r: "#reject" };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    let target = keys[e.key] && document.querySelector(keys[e.key]);
    if (!target && /^[1-5]$/.test(e.key)) target = document.querySelector(`button[name=rating][value="${e.key}"]`);
    if (!target && /^[a-z0-9/]$/i.test(e.key)) target = document.querySelector(`[data-key="${e.key.toLowerCase()}"]`);
    if (!target) return;
    e.preventDefault();
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) target.focus(); else target.click();
  });
});

// Live training progress by Server-Sent Events: status, step, tokens/s and the loss curve.
// The scaling is the same as expertune/studio/chart.py, which draws the first frame on the server.
function chartPoints(series, xmax, ymin, span, w, h) {
  const pad = 30;
  return series.map(([s, v]) => `${(pad + (w - 2 * pad) * s / xmax).toFixed(1)},${(h - pad - (h - 2 * pad) * (v - ymin) / span).toFixed(1)}`).join(" ");
}

document.addEventListener("DOMContentLoaded", () => {
  const job = document.getElementById("job");
  if (!job || !job.dataset.events) return;
  const source = new EventSource(job.dataset.events);
  const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
  source.onmessage = (event) => {
    const d = JSON.parse(event.data);
    const status = document.getElementById("job-status");
    status.textContent = d.status; status.className = `badge ${d.status}`;
    set("job-step", d.step); set("job-max", d.max_steps || "?"); set("job-rate", d.tokens_per_second || "–");
    if (d.stage !== undefined) {
      set("job-stage", d.stage); set("job-done", d.done); set("job-total", d.total);
      const bar = document.getElementById("job-bar"); if (bar) { bar.max = d.total || 1; bar.value = d.done; }
    }
    if (d.error) { const e = document.getElementById("job-error"); e.hidden = false; e.textContent = d.error; }
    if (!d.points) return;
    const all = d.points.concat(d.eval_points);
    if (all.length) {
      const svg = document.getElementById("loss-chart");
      const w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
      const xmax = Math.max(d.max_steps || 0, ...all.map((p) => p[0])) || 1;
      const ys = all.map((p) => p[1]), ymin = Math.min(...ys), ymax = Math.max(...ys);
      const span = (ymax - ymin) || 1;
      document.getElementById("train-line").setAttribute("points", chartPoints(d.points, xmax, ymin, span, w, h));
      document.getElementById("eval-line").setAttribute("points", chartPoints(d.eval_points, xmax, ymin, span, w, h));
      set("chart-ymin", ymin.toFixed(3)); set("chart-ymax", ymax.toFixed(3)); set("chart-xmax", xmax);
    }
  };
  // When the job ends, reload once: the page then shows the result and the resume/adapter links.
  source.addEventListener("done", () => { source.close(); window.location.reload(); });
});

// Author page: stream the drafts as the model writes them (a POST read as Server-Sent Events, so
// the CSRF header goes with it), side by side; reload when they are stored. Every form marked
// data-stream does this: write takes, regenerate, direct a draft.
// A form may have several such buttons: the one pressed names its URL (formaction).
// Stop (#stop, shown meanwhile) aborts the request: the server, seeing the browser leave, cancels
// the draft being written and stores it as cancelled, as when the tab is closed.
async function streamDrafts(form, submitter) {
  const body = new URLSearchParams(new FormData(form));
  const url = submitter && submitter.hasAttribute("formaction") ? submitter.formAction : form.action;
  const box = document.getElementById("takes");
  const stored = box.querySelectorAll(".take").length;
  const panes = {};
  const pane = (i) => panes[i] || (panes[i] = box.appendChild(Object.assign(document.createElement("div"),
    { className: "card take streaming" })).appendChild(document.createElement("div")));
  let saved = 0, writing = false, stopped = false;
  for (const b of document.querySelectorAll("form[data-stream] button")) b.disabled = true;
  const controller = new AbortController();
  const stop = document.getElementById("stop");
  stop.onclick = () => { stopped = true; stop.disabled = true; stop.textContent = "Stopping…"; controller.abort(); };
  stop.hidden = stop.disabled = false;
  stop.focus();  // so that S works after Enter in a direction field, which would otherwise type it
  try {
    const csrf = document.querySelector("meta[name=csrf-token]").content;
    const response = await fetch(url, { method: "POST", body, signal: controller.signal,
      headers: { Accept: "text/event-stream", "X-CSRF-Token": csrf } });
    if (!response.ok) { document.open(); document.write(await response.text()); document.close(); return; }
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (!data) continue;
        const d = JSON.parse(data.slice(6));
        if (d.text !== undefined) { const el = pane(d.take); el.className = "text"; el.textContent += d.text; writing = true; }
        if (d.saved !== undefined) { saved += 1; writing = false; }
      }
    }
  } catch (err) {
    if (!stopped) throw err;
  }
  if (stopped) await storedDrafts(stored + saved + (writing ? 1 : 0));
  window.location.reload();
}

// After Stop the server stores the cancelled draft once it notices the browser left (when the model
// writes its next token), possibly after the page asked again: wait until the page lists `count`
// drafts, for a few seconds at most (a model that failed as it was stopped stores nothing).
async function storedDrafts(count) {
  for (let tries = 0; tries < 25; tries++) {
    const html = await (await fetch(window.location.href, { cache: "no-store" })).text();
    // parsed, never shown: a DOMParser document runs no script and loads nothing
    if (new DOMParser().parseFromString(html, "text/html").querySelectorAll("#takes .take").length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-stream]")) {
    form.addEventListener("submit", (e) => { e.preventDefault(); streamDrafts(form, e.submitter); });
  }
});
