// Sending a private message without leaving the page: it shows at once, marked as sending, and the form posts
// it with the id this page made for it (client_id). When the server's `message.created` with that id arrives
// (static/js/live-messages.js), it takes the pending one's place; a retry after a failure sends the same id, so the
// server stores it once. Without this file (or JavaScript) the form posts and the page reloads, as before.
"use strict";

(() => {
  const form = document.querySelector("form.message-form");
  const list = document.getElementById("messages");
  if (!form || !list || !window.fetch) return;
  const body = form.querySelector("textarea[name=body]");
  const clientId = form.querySelector("input[name=client_id]");
  const pictures = form.querySelector("input[name=images]");

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function pendingItem(text, id) {
    const item = document.createElement("li");
    item.className = "message mine sending";
    item.dataset.clientId = id;
    const content = document.createElement("div");
    content.className = "post-body";
    // Shown as typed, as text: the server's rendering replaces it when it arrives.
    content.textContent = text;
    item.append(content);
    return item;
  }

  async function send(item, data) {
    item.classList.remove("failed");
    item.classList.add("sending");
    let ok = false;
    let reason = "";
    try {
      // manual: the answer is a redirect back to this page, which is not needed. A refusal comes as JSON.
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        redirect: "manual",
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      ok = response.type === "opaqueredirect" || response.ok;
      if (!ok) {
        const answer = await response.json().catch(() => null);
        if (answer && typeof answer.message === "string") {
          const fields = answer.fields && typeof answer.fields === "object" ? Object.values(answer.fields) : [];
          reason = fields.filter((text) => typeof text === "string").join(" ") || answer.message;
        }
      }
    } catch {
      ok = false;
    }
    item.classList.remove("sending");
    if (ok) return;
    item.classList.add("failed");
    item.querySelector(".failed-reason")?.remove();
    if (reason) {
      const note = document.createElement("p");
      note.className = "error failed-reason";
      note.setAttribute("role", "alert");
      note.textContent = reason; // as text: never markup
      item.append(note);
    }
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "link failed-note";
    retry.textContent = form.dataset.failed || "↻";
    retry.addEventListener("click", () => {
      retry.remove();
      send(item, data);
    }, { once: true });
    item.append(retry);
  }

  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault(); // even when empty: a second tap after the first cleared the box sends nothing
    const text = body.value.trim();
    const chosen = pictures ? pictures.files.length : 0;
    if (!text && !chosen) return;
    const data = new FormData(form);
    // Pictures show once the server has re-encoded them (the live message replaces this one).
    const item = pendingItem(text || "🖼 ×" + chosen, clientId.value);
    list.append(item);
    const empty = document.getElementById("no-messages");
    if (empty) empty.hidden = true;
    body.value = "";
    if (pictures) pictures.value = "";
    clientId.value = newClientId();
    send(item, data);
  });
})();
