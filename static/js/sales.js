// Live charity sales: what is left, reserved and sold of each item, the total raised, new items and new
// sales, without reloading. static/js/live.js follows the rooms and hands each event of a room to the room's
// element as a `linli:event`; this file renders the sale's ones (docs/realtime.md).
// Progressive: without it the pages work, and show the state as of their loading.
"use strict";

(() => {
  // From static/js/live.js, loaded before this file; without it (no socket) nothing arrives to render.
  const { personElement, galleryElement, highlight } = window.linliDom || {};

  function yuan(cents) {
    const value = Number(cents);
    if (!Number.isFinite(value)) return "";
    const whole = Math.floor(value / 100).toLocaleString("en-US");
    return `${whole}.${String(value % 100).padStart(2, "0")}`;
  }

  function announce(message) {
    const region = document.getElementById("live-announcer");
    if (region) region.textContent = message;
  }

  // The counts of one item and whether it can still be reserved (the full state: a lost event heals).
  function setUnits(data) {
    const card = document.getElementById(`item-${Number(data.item_id)}`);
    if (!card) return;
    const set = (selector, value) => {
      const element = card.querySelector(selector);
      if (element) element.textContent = String(value);
    };
    set(".available", data.available);
    set(".reserved", data.reserved);
    set(".sold", data.sold);
    const quantity = card.querySelector("input.quantity");
    if (quantity) quantity.max = String(Math.max(Number(data.available), 1));
    const button = card.querySelector(".reserve-form button[type=submit]");
    if (button) button.disabled = Number(data.available) <= 0 || document.body.dataset.saleClosed === "1";
    const soldOut = card.querySelector(".sold-out");
    if (soldOut) soldOut.hidden = Number(data.available) > 0;
    highlight(card);
  }

  function setSale(data) {
    const raised = document.getElementById("raised");
    if (raised && raised.dataset.cents !== String(data.raised_cents)) {
      raised.dataset.cents = String(data.raised_cents);
      raised.textContent = yuan(data.raised_cents);
      highlight(raised.closest(".card") || raised);
    }
    const progress = document.getElementById("sale-progress");
    if (progress && data.target_cents) progress.value = Math.min(Number(data.raised_cents), Number(data.target_cents));
    if (data.status === "closed") {
      document.body.dataset.saleClosed = "1";
      for (const tag of document.querySelectorAll(".sale-closed")) tag.hidden = false;
      for (const button of document.querySelectorAll(".reserve-form button[type=submit]")) button.disabled = true;
    }
  }

  function addItem(list, data) {
    if (document.getElementById(`item-${Number(data.item_id)}`)) return;
    const template = document.getElementById("sale-item-template");
    if (!template) return;
    const card = template.content.firstElementChild.cloneNode(true);
    card.id = `item-${Number(data.item_id)}`;
    card.dataset.itemId = String(data.item_id);
    card.querySelector("h3").textContent = data.title;
    const description = card.querySelector(".item-description");
    if (data.description) description.textContent = data.description;
    else description.remove();
    card.querySelector(".price-number").textContent = yuan(data.price_cents);
    card.querySelector(".available").textContent = String(data.quantity);
    card.querySelector(".author").append(personElement(data.donor));
    const form = card.querySelector(".reserve-form");
    if (form) {
      form.action = `/sales/items/${Number(data.item_id)}/reserve`;
      form.querySelector("input.quantity").max = String(data.quantity);
      if (document.body.dataset.saleClosed === "1") form.querySelector("button").disabled = true;
    }
    const gallery = galleryElement(data.images);
    if (gallery) card.querySelector("h3").after(gallery);
    list.append(card);
    document.getElementById("no-items")?.remove();
    highlight(card);
    announce(data.title);
  }

  function addSale(list, data) {
    if (document.getElementById(`sale-${Number(data.sale_id)}`)) return;
    const template = document.getElementById("sale-row-template");
    if (!template) return;
    const row = template.content.firstElementChild.cloneNode(true);
    row.id = `sale-${Number(data.sale_id)}`;
    const link = row.querySelector("h2 a");
    link.href = data.url;
    link.textContent = data.title;
    row.querySelector(".sale-cause").textContent = data.cause;
    row.querySelector(".author").append(personElement(data.organiser));
    list.prepend(row);
    document.getElementById("no-sales")?.remove();
    highlight(row);
    announce(data.title);
  }

  // A sale in the community's list: its total raised (sale.changed, also sent to the market room).
  function setRow(data) {
    const raised = document.getElementById(`sale-${Number(data.sale_id)}`)?.querySelector(".raised");
    if (raised && raised.textContent !== yuan(data.raised_cents)) {
      raised.textContent = yuan(data.raised_cents);
      highlight(raised.closest("li") || raised);
    }
  }

  function start() {
    const items = document.getElementById("sale-items");
    items?.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      const data = envelope.data || {};
      if (envelope.type === "sale.item_changed") setUnits(data);
      else if (envelope.type === "sale.changed") setSale(data);
      else if (envelope.type === "sale.item_added") addItem(items, data);
    });
    const sales = document.getElementById("sales");
    sales?.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      if (envelope.type === "sale.created") addSale(sales, envelope.data || {});
      else if (envelope.type === "sale.changed") setRow(envelope.data || {});
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
