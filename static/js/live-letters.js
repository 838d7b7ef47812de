// The thanks wall, live (templates/letters/wall.html): a letter written while the wall is open appears at the
// top, likes are counted, and a letter hidden by a secretary leaves. static/js/live.js follows the wall's room
// and hands each of its events to #letters as a `linli:event`; the wall's earlier pages carry no room.
"use strict";

(() => {
  function start() {
    const wall = document.getElementById("letters");
    if (!wall || !window.linliDom || !window.linliLive) return;
    const { personElement, galleryElement, highlight, timeElement } = window.linliDom;
    const { announce } = window.linliLive;

    // As letters/_letter.html shows it; likes and the recipients' buttons come with the next page load.
    function addLetter(data) {
      if (document.getElementById(`letter-${Number(data.letter_id)}`)) return;
      const template = document.getElementById("letter-template");
      if (!template) return;
      const card = template.content.firstElementChild.cloneNode(true);
      card.id = `letter-${Number(data.letter_id)}`;
      card.dataset.letterId = String(data.letter_id);
      const link = card.querySelector(".letter-title a");
      link.href = String(data.url);
      link.textContent = data.title;
      const names = card.querySelector(".recipients");
      if (data.group_name) {
        const group = document.createElement("strong");
        group.textContent = data.group_name;
        names.append(group, " (");
      }
      (data.recipients || []).forEach((recipient, index) => {
        if (index > 0) names.append("、");
        names.append(personElement(recipient));
      });
      if (data.group_name) names.append(")");
      // Sanitised by nh3 before it was stored, as a post's body_html.
      card.querySelector(".post-body").innerHTML = data.body_html;
      const gallery = galleryElement(data.images);
      if (gallery) card.querySelector(".post-body").after(gallery);
      card.querySelector(".author").append(personElement(data.author), " · ", timeElement(data.created_at));
      wall.prepend(card);
      const empty = document.getElementById("no-letters");
      if (empty) empty.hidden = true;
      highlight(card);
      announce(data.author.display_name, data.title);
    }

    function setLikes(data) {
      const number = document.getElementById(`letter-${Number(data.letter_id)}`)?.querySelector(".like-number");
      if (number) number.textContent = String(data.like_count);
    }

    // Hidden by a secretary (or by flags), it leaves the wall; one shown again appears on the next load.
    function setHidden(data) {
      if (data.hidden) document.getElementById(`letter-${Number(data.letter_id)}`)?.remove();
    }

    const renderers = new Map([
      ["letter.created", addLetter],
      ["letter.liked", setLikes],
      ["letter.hidden", setHidden],
    ]);
    wall.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      renderers.get(envelope.type)?.(envelope.data || {});
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
