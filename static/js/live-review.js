// The review queue, live (templates/moderation/review.html): a secretary is told how many items wait now, and
// reloads to see them (the queue's events carry counts only, never content). static/js/live.js follows the
// queue's room and hands each of its events to #review-queue as a `linli:event`.
"use strict";

(() => {
  function start() {
    const queue = document.getElementById("review-queue");
    const news = queue?.querySelector(".review-news");
    if (!news) return;
    // The page's sentence, with {waiting} where the number goes.
    const sentence = news.firstChild.textContent;

    queue.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      if (envelope.type !== "review.changed") return;
      const waiting = Number((envelope.data || {}).waiting);
      if (waiting === Number(queue.dataset.waiting)) return;
      news.firstChild.textContent = sentence.replace("{waiting}", String(waiting));
      news.hidden = false;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
