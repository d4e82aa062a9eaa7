// expertune studio: small progressive enhancements. Every page works without this file.
"use strict";

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
  // Keyboard shortcuts on a response page: a accept, r reject, 1-5 rate (not while typing).
  const keys = { a: "#accept", r: "#reject" };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    let target = keys[e.key] && document.querySelector(keys[e.key]);
    if (!target && /^[1-5]$/.test(e.key)) target = document.querySelector(`button[name=rating][value="${e.key}"]`);
    if (target) { e.preventDefault(); target.click(); }
  });
});
