// Problem reports (templates/reports/): the countdowns, the live list and queue, a report's live timeline,
// the report form's suggestions and site-plan tap, and the response guide's one-tap insert. Every page works
// without this file. static/js/live.js follows the rooms the page names and hands their events to the room's
// element as `linli:event`; a report's page fetches its timeline fragment again instead of building sentences
// here, so the words are the server's, in the reader's language.
"use strict";

(() => {
  const TICK_MS = 15000; // countdowns show minutes: a quarter of a minute is often enough
  const REFETCH_DELAY_MS = 150; // several events of one change (entry, state, comment) make one fetch

  function start() {
    const dom = window.linliDom;
    const text = dom ? dom.strings("report-strings") : {};
    const fill = (key, values) =>
      Object.entries(values).reduce((line, [name, value]) => line.replace(`{${name}}`, String(value)), text[key] || "");

    // --- Countdowns: from the server's now (data-now) and the due time, whatever the phone's clock says ----
    let skew = 0; // the server's clock minus this phone's
    const first = document.querySelector("[data-now]"); // the page's exact now comes first
    if (first) {
      const serverNow = Date.parse(first.dataset.now);
      if (!Number.isNaN(serverNow)) skew = serverNow - Date.now();
    }

    function renderClock(clock) {
      const due = Date.parse(clock.dataset.due || "");
      if (clock.dataset.clock !== "countdown" || Number.isNaN(due)) return;
      const left = due - (Date.now() + skew);
      if (left <= 0) {
        clock.dataset.clock = "overdue";
        clock.classList.remove("countdown");
        clock.classList.add("overdue");
        clock.textContent = text.overdue || "";
        return;
      }
      const minutes = Math.floor(left / 60000);
      clock.textContent = fill("left", { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, "0") });
    }
    const tick = () => document.querySelectorAll(".report-clock[data-clock=countdown]").forEach(renderClock);
    tick();
    setInterval(tick, TICK_MS);

    function answeredIn(minutes) {
      let amount;
      if (minutes < 60) amount = fill("minutes", { n: minutes });
      else if (minutes < 48 * 60) amount = fill("hours", { n: Math.round(minutes / 60) });
      else amount = fill("days", { n: Math.round(minutes / 1440) });
      return fill("answered", { time: amount });
    }

    // A row's status, clock and counts from `report.changed` (the full state).
    function updateRow(row, data) {
      row.dataset.status = String(data.status);
      const tag = row.querySelector(".report-status");
      if (tag) {
        tag.dataset.status = String(data.status);
        tag.textContent = text[`status_${data.status}`] || String(data.status);
      }
      const count = row.querySelector(".me-too-number");
      if (count) count.textContent = String(data.me_too_count);
      const clock = row.querySelector(".report-clock");
      if (!clock) return;
      if (data.answered_at) {
        clock.dataset.clock = "answered";
        clock.className = "report-clock answered";
        clock.textContent = answeredIn(Number(data.answer_minutes) || 0);
      } else if (data.overdue) {
        clock.dataset.clock = "overdue";
        clock.className = "report-clock overdue";
        clock.textContent = text.overdue || "";
      }
    }

    // --- Lists: the neighbours' list and the secretaries' queue ------------------------------------------
    function newRow(data, withReporter) {
      const template = document.getElementById("report-row-template");
      if (!template) return null;
      const row = template.content.firstElementChild.cloneNode(true);
      row.id = `report-${Number(data.report_id)}`;
      row.dataset.reportId = String(data.report_id);
      row.dataset.rank = "0";
      row.dataset.due = String(data.due_at);
      row.dataset.status = String(data.status);
      if (data.thumbnail_url) {
        const img = document.createElement("img");
        img.className = "report-thumb";
        img.src = String(data.thumbnail_url);
        img.alt = "";
        row.querySelector(".report-thumb").replaceWith(img);
      }
      row.querySelector(".report-category").textContent = data.category;
      const tag = row.querySelector(".report-status");
      tag.dataset.status = String(data.status);
      tag.textContent = text[`status_${data.status}`] || String(data.status);
      row.querySelector(".report-private").hidden = !data.is_private;
      const link = row.querySelector(".report-title a");
      link.href = String(data.url);
      link.textContent = data.title;
      row.querySelector(".report-place").textContent = data.place;
      const who = row.querySelector(".report-reporter");
      if (withReporter && data.reporter && dom) who.append(dom.personElement(data.reporter));
      else if (withReporter) who.textContent = text.neighbour || "";
      else row.querySelector(".report-reporter-wrap").remove();
      if (dom) row.querySelector(".report-when").append(dom.timeElement(String(data.created_at)));
      const clock = row.querySelector(".report-clock");
      clock.dataset.due = String(data.due_at);
      renderClock(clock);
      row.querySelector(".me-too-number").textContent = String(data.me_too_count || 0);
      return row;
    }

    function placeInQueue(list, row, due) {
      // Sorted as the server sorts: waiting for the answer first (rank 0), soonest due first, then the rest.
      const dueAt = Date.parse(due);
      for (const other of list.children) {
        const rank = Number(other.dataset.rank);
        if (rank > 0 || Date.parse(other.dataset.due || "") > dueAt) {
          list.insertBefore(row, other);
          return;
        }
      }
      list.append(row);
    }

    function beep() {
      try {
        const Context = window.AudioContext || window.webkitAudioContext;
        if (Context) {
          const audio = new Context();
          const tone = audio.createOscillator();
          const volume = audio.createGain();
          tone.frequency.value = 880;
          volume.gain.value = 0.08;
          tone.connect(volume).connect(audio.destination);
          tone.start();
          tone.stop(audio.currentTime + 0.18);
          tone.onended = () => audio.close();
        }
      } catch {
        // No sound where the browser does not allow it yet (no tap on the page so far): the row still shows.
      }
      try {
        if (navigator.vibrate) navigator.vibrate(200);
      } catch {
        // Vibration is a nicety.
      }
    }

    function arrived(list, row, data) {
      document.getElementById("no-reports")?.setAttribute("hidden", "");
      if (dom) dom.highlight(row);
      window.linliLive?.announce(data.category, data.title);
    }

    for (const list of document.querySelectorAll("[data-list]")) {
      const isQueue = list.dataset.list === "queue";
      const renderers = new Map([
        [
          "report.created",
          (data) => {
            if (isQueue || document.getElementById(`report-${Number(data.report_id)}`)) return;
            const row = newRow(data, false);
            if (!row) return;
            list.prepend(row);
            arrived(list, row, data);
          },
        ],
        [
          "report.queued",
          (data) => {
            if (!isQueue || !list.dataset.acceptsNew) return;
            if (document.getElementById(`report-${Number(data.report_id)}`)) return;
            if (list.dataset.category && list.dataset.category !== data.category) return;
            if (list.dataset.place && !String(data.place).startsWith(list.dataset.place)) return;
            const row = newRow(data, true);
            if (!row) return;
            placeInQueue(list, row, data.due_at);
            arrived(list, row, data);
            beep();
          },
        ],
        [
          "report.changed",
          (data) => {
            const row = document.getElementById(`report-${Number(data.report_id)}`);
            if (row) updateRow(row, data);
          },
        ],
        [
          "report.hidden",
          (data) => {
            if (data.hidden && !isQueue) document.getElementById(`report-${Number(data.report_id)}`)?.remove();
          },
        ],
      ]);
      list.addEventListener("linli:event", (event) => {
        const envelope = event.detail || {};
        renderers.get(envelope.type)?.(envelope.data || {});
      });
    }

    // --- A report's page: fetch the timeline fragment again on each change -------------------------------
    const live = document.getElementById("report-live");
    if (live) {
      let timer = null;
      let fetching = false;
      let again = false;
      async function refresh() {
        if (fetching) {
          again = true;
          return;
        }
        fetching = true;
        try {
          const response = await fetch(live.dataset.timelineUrl, { credentials: "same-origin" });
          if (response.ok) replaceParts(await response.text());
        } catch {
          // Offline for a moment: the next event (or a reload) brings it.
        } finally {
          fetching = false;
          if (again) {
            again = false;
            refresh();
          }
        }
      }
      function replaceParts(html) {
        const holder = document.createElement("template");
        holder.innerHTML = html; // the server's own markup for this reader (bodies sanitised by nh3)
        for (const id of ["report-state", "report-timeline", "report-comments", "report-actions"]) {
          const fresh = holder.content.getElementById(id);
          const old = document.getElementById(id);
          if (!fresh || !old) continue;
          // The forms are replaced only when what they offer changed, and keep what was typed.
          if (id === "report-actions") {
            if (fresh.dataset.version === old.dataset.version) continue;
            for (const field of old.querySelectorAll("textarea[id], input[id]:not([type=hidden])")) {
              const twin = fresh.querySelector(`#${CSS.escape(field.id)}`);
              if (twin && field.value) twin.value = field.value;
            }
          }
          old.replaceWith(fresh);
        }
        tick();
      }
      live.addEventListener("linli:event", (event) => {
        const type = (event.detail || {}).type || "";
        if (!type.startsWith("report.")) return;
        clearTimeout(timer);
        timer = setTimeout(refresh, REFETCH_DELAY_MS);
      });

      // The response guide: searched in place, and an answer put into the answer box with one tap.
      live.addEventListener("submit", async (event) => {
        const form = event.target;
        if (!(form instanceof HTMLFormElement) || !form.classList.contains("guide-search")) return;
        event.preventDefault();
        const query = new FormData(form).get("guide") || "";
        const url = `${form.dataset.guideUrl}?q=${encodeURIComponent(String(query))}`;
        try {
          const response = await fetch(url, { credentials: "same-origin" });
          if (response.ok) document.getElementById("guide-results").innerHTML = await response.text();
        } catch {
          form.submit(); // the page does the same search without this script
        }
      });
      live.addEventListener("click", (event) => {
        const button = event.target.closest?.(".guide-insert");
        if (!button) return;
        const body = document.getElementById("f-body");
        if (!body) return;
        body.value = body.value.trim() ? `${body.value.trim()}\n\n${button.dataset.answer}` : button.dataset.answer;
        body.focus();
        body.setSelectionRange(body.value.length, body.value.length);
      });
    }

    // --- The report form: suggestions while it is filled in, and the site plan --------------------------
    const form = document.getElementById("report-form");
    if (form) {
      let timer = null;
      async function suggest() {
        const data = new FormData(form);
        const category = data.get("category_id");
        const similar = document.getElementById("report-similar");
        const faq = document.getElementById("report-faq");
        if (!category) return;
        const params = new URLSearchParams({
          category_id: String(category),
          place_id: String(data.get("place_id") || ""),
          location: String(data.get("location") || ""),
        });
        try {
          const [found, asked] = await Promise.all([
            fetch(`${form.dataset.similarUrl}?${params}`, { credentials: "same-origin" }),
            fetch(`${form.dataset.faqUrl}?category_id=${encodeURIComponent(String(category))}`, {
              credentials: "same-origin",
            }),
          ]);
          if (found.ok) similar.innerHTML = await found.text();
          if (asked.ok) faq.innerHTML = await asked.text();
        } catch {
          // Suggestions are a help, not a step: the form sends without them.
        }
      }
      const later = () => {
        clearTimeout(timer);
        timer = setTimeout(suggest, 300);
      };
      form.addEventListener("change", (event) => {
        if (["category_id", "place_id"].includes(event.target.name)) later();
      });
      form.addEventListener("input", (event) => {
        if (event.target.name === "location") later();
      });
      if (new FormData(form).get("category_id")) later();

      const picker = form.querySelector("[data-plan-picker]");
      if (picker) {
        const image = picker.querySelector("img");
        const marker = picker.querySelector(".plan-marker");
        const x = form.elements.namedItem("plan_x");
        const y = form.elements.namedItem("plan_y");
        const clear = form.querySelector(".plan-clear");
        const show = () => {
          const has = x.value !== "" && y.value !== "";
          marker.hidden = !has;
          clear.hidden = !has;
          if (has) {
            marker.style.left = `${Number(x.value) / 10}%`;
            marker.style.top = `${Number(y.value) / 10}%`;
          }
        };
        image.addEventListener("click", (event) => {
          const box = image.getBoundingClientRect();
          const clamp = (value) => Math.max(0, Math.min(1000, Math.round(value)));
          x.value = String(clamp(((event.clientX - box.left) / box.width) * 1000));
          y.value = String(clamp(((event.clientY - box.top) / box.height) * 1000));
          show();
        });
        clear.addEventListener("click", () => {
          x.value = "";
          y.value = "";
          show();
        });
        show();
      }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
