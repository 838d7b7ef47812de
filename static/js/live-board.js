// A board's first page, live (templates/threads/board.html): a thread started while it is open appears at the
// top. static/js/live.js follows the board's room and hands each of its events to #threads as a
// `linli:event`; the board's older pages carry no room, so nothing arrives there.
"use strict";

(() => {
  function start() {
    const list = document.getElementById("threads");
    if (!list || !window.linliDom) return;
    const { personElement, highlight, timeElement } = window.linliDom;

    function addThread(data) {
      if (list.querySelector(`:scope > li[data-thread-id="${Number(data.thread_id)}"]`)) return;
      for (const empty of list.querySelectorAll(":scope > li.empty")) empty.remove();
      const item = document.createElement("li");
      item.className = "card thread-row";
      item.dataset.threadId = String(data.thread_id);
      const heading = document.createElement("h2");
      const link = document.createElement("a");
      link.href = data.url;
      link.textContent = data.title;
      heading.append(link);
      const meta = document.createElement("p");
      meta.className = "meta";
      meta.append(personElement(data.author), " · ", timeElement(data.created_at));
      item.append(heading, meta);
      list.prepend(item);
      highlight(item);
    }

    list.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      if (envelope.type === "thread.created") addThread(envelope.data || {});
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
