// Live market: new swaps and give-aways at the top of the market page, and each listing's status and number
// of offers on every open page, without reloading. static/js/live.js follows the rooms and hands each event
// of a room to the room's element as a `linli:event` (docs/realtime.md).
"use strict";

(() => {
  // From static/js/live.js, loaded before this file; without it (no socket) nothing arrives to render.
  const { personElement, highlight } = window.linliDom || {};

  function strings() {
    const found = {};
    const holder = document.getElementById("market-strings");
    if (holder) {
      for (const span of holder.content.querySelectorAll("[data-key]")) found[span.dataset.key] = span.textContent.trim();
    }
    return found;
  }

  function start() {
    const text = strings();
    // "3 offers" for a swap, "3 requests" for a give-away, as the page's own labels say it.
    const offers = (kind, count) => {
      const key = kind === "free" ? "requests" : "offers";
      return count === 1 ? text[`${key}-one`] || "1" : (text[`${key}-many`] || "{num}").replace("{num}", String(count));
    };

    // One listing's state, wherever it is shown on this page (a row in a list, or the listing's own page).
    function setListing(data) {
      for (const element of document.querySelectorAll(`[data-listing-id="${Number(data.listing_id)}"]`)) {
        const changed = element.dataset.status !== data.status;
        element.dataset.status = data.status;
        const status = element.querySelector(".listing-status");
        if (status && text[`status-${data.status}`]) status.textContent = text[`status-${data.status}`];
        const count = element.querySelector(".offer-count");
        if (count && typeof data.offer_count === "number") {
          const before = count.textContent;
          count.textContent = offers(element.dataset.kind, data.offer_count);
          // The owner's list of offers is as the page was loaded: say it changed (it is not rebuilt here).
          const notice = document.querySelector("#offers .offers-changed");
          if (notice && element.id === "listing" && before !== count.textContent) notice.hidden = false;
        }
        if (changed) highlight(element);
      }
      // On the listing's own page, once it is not open, offering, accepting, withdrawing and drawing no longer
      // apply: the buttons are disabled at once rather than refused by the server on a tap.
      const page = document.getElementById("listing");
      if (page && Number(page.dataset.listingId) === Number(data.listing_id) && data.status !== "open") {
        for (const button of document.querySelectorAll("button.offer-only")) button.disabled = true;
      }
    }

    function addListing(list, data) {
      if (!list.dataset.addNew || document.getElementById(`listing-${Number(data.listing_id)}`)) return;
      const template = document.getElementById("listing-template");
      if (!template) return;
      const row = template.content.firstElementChild.cloneNode(true);
      row.id = `listing-${Number(data.listing_id)}`;
      row.dataset.listingId = String(data.listing_id);
      row.dataset.status = "open";
      row.dataset.kind = data.kind;
      row.querySelector(".offer-count").textContent = offers(data.kind, 0);
      const link = row.querySelector("h2 a");
      link.href = data.url;
      link.textContent = data.title;
      row.querySelector(".listing-kind").textContent = text[data.kind] || data.kind;
      row.querySelector(".listing-where").textContent = `${text[`category-${data.category}`] || ""} · ${data.pickup_area}`;
      if (data.wanted) {
        row.querySelector(".wanted").hidden = false;
        row.querySelector(".wanted-text").textContent = data.wanted;
      }
      row.querySelector(".author").append(personElement(data.owner));
      if (Array.isArray(data.images) && data.images.length > 0) {
        const img = document.createElement("img");
        img.className = "listing-thumb";
        img.src = String(data.images[0].thumb_url);
        img.width = Number(data.images[0].thumb_width);
        img.height = Number(data.images[0].thumb_height);
        img.alt = "";
        row.prepend(img);
      }
      list.prepend(row);
      document.getElementById("no-listings")?.remove();
      highlight(row);
      const region = document.getElementById("live-announcer");
      if (region) region.textContent = data.title;
    }

    // Items of charity sales listed on the market page: what is left of each (sale.item_changed).
    function setSaleItem(data) {
      for (const row of document.querySelectorAll(`[data-sale-item-id="${Number(data.item_id)}"]`)) {
        const left = row.querySelector(".available");
        if (left && left.textContent !== String(data.available)) {
          left.textContent = String(data.available);
          highlight(row);
        }
      }
    }

    document.querySelector("#offers .offers-changed button")?.addEventListener("click", () => window.location.reload());

    for (const element of document.querySelectorAll("#listings, #listing")) {
      element.addEventListener("linli:event", (event) => {
        const envelope = event.detail || {};
        if (envelope.type === "listing.changed") setListing(envelope.data || {});
        else if (envelope.type === "sale.item_changed") setSaleItem(envelope.data || {});
        else if (envelope.type === "listing.created" && element.id === "listings") addListing(element, envelope.data || {});
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
