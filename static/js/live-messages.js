// A conversation, live (templates/messages/show.html): others' messages appear, one's own sent message takes
// the place of the copy static/js/messages.js showed while sending it (same client_id), "Read" moves under the
// newest message everyone has seen, and a message hidden after reports loses its text. static/js/live.js
// follows the conversation's room and hands each of its events to #messages as a `linli:event`.
//
// Reading is said, never implied: opening the page (a GET) marks nothing read. While the page is visible, this
// file tells the server what the reader has seen (POST data-read-url): on load, the newest message when the
// server rendered `data-read-up-to` (there was something unread), then each message that arrives. A page in a
// background tab says so once it is shown. Without JavaScript, the page's "Mark as read" button, or sending a
// message, does it.
"use strict";

(() => {
  const READ_DELAY_MS = 300; // messages arriving together (a replay) are marked read in one request

  function start() {
    const list = document.getElementById("messages");
    if (!list || !window.linliDom || !window.linliLive) return;
    const { personElement, galleryElement, highlight, timeElement } = window.linliDom;
    const { announce, userId } = window.linliLive;

    // --- Reading ----------------------------------------------------------------------------------------------
    let reported = 0; // the newest message the server has been told of by this page
    let readTimer = null;

    async function reportRead() {
      readTimer = null;
      const upTo = Number(list.dataset.readUpTo || 0);
      const token = document.querySelector("input[name=csrf_token]");
      if (upTo <= reported || !token || !list.dataset.readUrl) return;
      const form = new FormData();
      form.set("csrf_token", token.value);
      form.set("up_to", String(upTo));
      try {
        // keepalive: a reader who leaves at once has still seen the page.
        const response = await fetch(list.dataset.readUrl, {
          method: "POST",
          body: form,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          keepalive: true,
        });
        if (response.ok) reported = Math.max(reported, upTo);
      } catch {
        // Offline: the next time the page is shown (or opened) says it again.
      }
    }

    function markRead(upTo) {
      list.dataset.readUpTo = String(Math.max(Number(list.dataset.readUpTo || 0), upTo));
      if (document.visibilityState !== "visible" || readTimer) return;
      readTimer = setTimeout(reportRead, READ_DELAY_MS);
    }

    document.addEventListener("visibilitychange", () => {
      if (list.dataset.readUpTo && document.visibilityState === "visible") markRead(Number(list.dataset.readUpTo));
    });
    // The page reads by itself: the button for pages without JavaScript is not needed.
    for (const form of document.querySelectorAll("form.mark-read-form")) form.hidden = true;
    if (list.dataset.readUpTo) markRead(Number(list.dataset.readUpTo));

    // --- Events -----------------------------------------------------------------------------------------------
    function addMessage(data) {
      if (document.getElementById(`m-${Number(data.message_id)}`)) return;
      const item = document.createElement("li");
      const mine = userId() !== null && data.sender && data.sender.id === userId();
      item.className = mine ? "message mine" : "message";
      item.id = `m-${Number(data.message_id)}`;
      item.dataset.messageId = String(data.message_id);
      const header = document.createElement("header");
      header.append(personElement(data.sender), " ", timeElement(data.created_at));
      const body = document.createElement("div");
      body.className = "post-body";
      // Sanitised by nh3 before it was stored, as a post's body_html.
      body.innerHTML = data.body_html;
      item.append(header);
      if (data.body_html) item.append(body);
      const gallery = galleryElement(data.images);
      if (gallery) item.append(gallery);
      const report = document.getElementById("report-template");
      if (!mine && report) {
        const form = report.content.firstElementChild.cloneNode(true);
        form.querySelector("input[name=message_id]").value = String(Number(data.message_id));
        item.append(form);
      }
      const sending =
        typeof data.client_id === "string"
          ? list.querySelector(`li[data-client-id="${CSS.escape(data.client_id)}"]`)
          : null;
      if (sending) sending.replaceWith(item);
      else list.append(item);
      const empty = document.getElementById("no-messages");
      if (empty) empty.hidden = true;
      if (!sending) {
        highlight(item);
        announce(data.sender.display_name, body.textContent);
      }
      // The page being open (and visible), someone else's message is read as it arrives.
      if (!mine) markRead(Number(data.message_id));
      // Their message is here: "… is writing" about them is over.
      const typing = document.getElementById("typing");
      if (typing && data.sender && typing.dataset.userId === String(data.sender.id)) typing.hidden = true;
    }

    // A message hidden after reports: its text and pictures leave the page (its sender sees them on reload,
    // with the secretary's reason); one shown again comes back on the next load.
    function setHidden(data) {
      const item = document.getElementById(`m-${Number(data.message_id)}`);
      const template = document.getElementById("message-hidden-template");
      // Its sender keeps seeing it (with the secretary's reason after a reload), as the page shows it to them.
      if (!item || !data.hidden || !template || item.classList.contains("mine") || item.querySelector(".hidden-reason")) {
        return;
      }
      for (const part of item.querySelectorAll(".post-body, .post-gallery, .report-form")) part.remove();
      item.querySelector("header")?.after(template.content.firstElementChild.cloneNode(true));
    }

    // "Read" stands under the viewer's newest message that every other participant has seen.
    function setRead(data) {
      if (userId() !== null && data.user_id === userId()) return;
      let marks = {};
      try {
        marks = JSON.parse(list.dataset.marks || "{}");
      } catch {
        marks = {};
      }
      marks[String(data.user_id)] = Math.max(Number(marks[String(data.user_id)] || 0), data.last_read_message_id);
      list.dataset.marks = JSON.stringify(marks);
      const seenByAll = Math.min(...Object.values(marks).map(Number));
      const template = document.getElementById("read-receipt-template");
      const target = [...list.querySelectorAll(":scope > li.mine[data-message-id]")]
        .filter((item) => Number(item.dataset.messageId) <= seenByAll)
        .pop();
      if (!target || !template || target.querySelector(".read-receipt")) return;
      for (const old of list.querySelectorAll(".read-receipt")) old.remove();
      target.append(template.content.firstElementChild.cloneNode(true));
    }

    const renderers = new Map([
      ["message.created", addMessage],
      ["message.read", setRead],
      ["message.hidden", setHidden],
    ]);
    list.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      renderers.get(envelope.type)?.(envelope.data || {});
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
