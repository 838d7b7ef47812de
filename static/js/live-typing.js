// "Someone is replying" on a thread, "… is writing" in a conversation: shown for a few seconds when the server
// relays another reader's signal, and sent at most every two seconds while this reader types. The page says
// what to send and what to show: the line #typing carries the signal's payload (`data-signal`, JSON such as
// {"thread_id": 12}) and its phrase (`data-phrase`, with {name}); the box that signals has `data-typing`.
// Signals are ephemeral (docs/realtime.md): not stored, not replayed, sent only while connected.
"use strict";

(() => {
  const SHOW_MS = 5000;
  const SEND_MS = 2000; // the server relays one signal per client every two seconds anyway

  function start() {
    const line = document.getElementById("typing");
    if (!line || !window.linliLive) return;
    let payload;
    try {
      payload = JSON.parse(line.dataset.signal || "null");
    } catch {
      payload = null;
    }
    if (!payload || typeof payload !== "object") return;
    const ours = (signal) => Object.entries(payload).every(([key, value]) => signal[key] === value);

    let hideTimer = null;
    document.addEventListener("linli:typing", (event) => {
      const signal = event.detail;
      if (typeof signal.display_name !== "string" || !ours(signal)) return;
      line.dataset.userId = String(signal.user_id);
      line.textContent = (line.dataset.phrase || "{name}").replace("{name}", signal.display_name);
      line.hidden = false;
      clearTimeout(hideTimer);
      hideTimer = setTimeout(() => {
        line.hidden = true;
      }, SHOW_MS);
    });
    // No longer allowed here: nobody's typing reaches this page any more.
    document.addEventListener("linli:revoked", () => {
      line.hidden = true;
    });

    let sent = 0;
    document.querySelector("textarea[data-typing]")?.addEventListener("input", () => {
      const now = Date.now();
      if (now - sent < SEND_MS) return;
      if (window.linliLive.signal("typing", payload)) sent = now;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
