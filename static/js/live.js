// Live updates, the core: one Socket.IO connection per signed-in page. It follows the rooms the page names
// (`data-room`, from the event id in `data-last-event-id`), applies each room's events once and in id order,
// keeps the status line, asks for a reload when events were missed, and shows what applies on every page: the
// unread and bell counts, a secretary's notices and mutes. It renders nothing of a page's own: every event of
// a followed room goes to the room's element as a `linli:event` (detail: the envelope {id, room, type, data}),
// which the page's own script renders (static/js/live-*.js, market.js, sales.js). Room names are opaque here:
// the server decides which rooms a page follows, and leaves `data-room` out where it should not update.
// Progressive: every page works without this file (or without WebSockets). The server contract is
// docs/realtime.md. Strings come from <template id="live-strings"> in base.html, so they are translated with
// the rest of the page; nothing here is evaluated or loaded from another origin.
"use strict";

(() => {
  const STATUS_DELAY_MS = 3000; // say the connection is lost only after this long
  const RETRY_MS = 2000; // a subscribe that failed while connected is tried again after about this long,
  const MAX_RETRY_MS = 30000; // then twice as long each time it fails again, up to this
  const ACK_TIMEOUT_MS = 10000;
  const ANNOUNCE_CHARS = 80;
  const HIGHLIGHT_MS = 4000; // matches the animation in linli.css

  // --- DOM pieces the renderers share (window.linliDom) ---------------------------------------------------
  const lang = () => document.documentElement.lang || undefined;

  // The `data-key` spans of a <template id=...>: a page's translated strings.
  function strings(templateId) {
    const found = {};
    const holder = document.getElementById(templateId);
    if (holder) {
      for (const span of holder.content.querySelectorAll("[data-key]")) {
        found[span.dataset.key] = span.textContent.trim();
      }
    }
    return found;
  }

  // The site's time zone, as the server renders times: a phone abroad or set to UTC shows the same clock.
  const timeZone = () => document.documentElement.dataset.timezone || undefined;

  function localTime(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return "";
    try {
      return when.toLocaleString(lang(), { dateStyle: "short", timeStyle: "short", timeZone: timeZone() });
    } catch {
      return when.toLocaleString();
    }
  }

  function timeElement(iso) {
    const time = document.createElement("time");
    time.dateTime = iso;
    time.textContent = localTime(iso);
    return time;
  }

  // <span class="person"><a href="/u/name">Display name</a> <badge></span>, as the `person` macro renders it.
  function personElement(author) {
    const span = document.createElement("span");
    span.className = "person";
    const link = document.createElement("a");
    link.href = `/u/${encodeURIComponent(author.username)}`;
    link.textContent = author.display_name;
    span.append(link);
    const badge = document.getElementById("badge-template");
    if (author.is_party_member && badge) {
      span.append(" ", badge.content.firstElementChild.cloneNode(true));
    }
    return span;
  }

  // `live-new` marks a just-added item for a moment (a fading tint, or a still one with reduced motion).
  function highlight(element) {
    element.classList.add("live-new");
    setTimeout(() => element.classList.remove("live-new"), HIGHLIGHT_MS);
  }

  // The pictures of a live post, message or letter, as the `gallery` macro renders them: thumbnails linking to
  // the full pictures, from the page's <template id="post-gallery-template">.
  function galleryElement(images) {
    const template = document.getElementById("post-gallery-template");
    if (!template || !Array.isArray(images) || images.length === 0) return null;
    const list = template.content.firstElementChild.cloneNode(true);
    const alt = list.dataset.alt || "";
    delete list.dataset.alt;
    images.forEach((image, index) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = String(image.url);
      const img = document.createElement("img");
      img.src = String(image.thumb_url);
      img.width = Number(image.thumb_width);
      img.height = Number(image.thumb_height);
      img.alt = alt.replace("{num}", String(index + 1)).replace("{count}", String(images.length));
      img.loading = "lazy";
      link.append(img);
      item.append(link);
      list.append(item);
    });
    return list;
  }

  window.linliDom = { personElement, galleryElement, highlight, timeElement, localTime, strings };

  // --- What the renderers ask of the core (window.linliLive) ----------------------------------------------
  const text = strings("live-strings");
  let myUserId = null; // from `ready`: who the server thinks this page belongs to
  let socket = null;

  // The page's polite announcer (#live-announcer) reads out what arrived. Several items at once (a replay
  // after reconnecting) are announced as one count, not read out in full.
  let announcements = [];
  function announce(name, body) {
    const announcer = document.getElementById("live-announcer");
    if (!announcer) return;
    const words = String(body).replace(/\s+/g, " ").trim();
    const short = words.length > ANNOUNCE_CHARS ? `${words.slice(0, ANNOUNCE_CHARS)}…` : words;
    announcements.push(`${name}: ${short}`);
    if (announcements.length > 1) return;
    queueMicrotask(() => {
      announcer.textContent =
        announcements.length === 1
          ? announcements[0]
          : (text.new_replies || "{num}").replace("{num}", String(announcements.length));
      announcements = [];
    });
  }

  window.linliLive = {
    userId: () => myUserId, // null until the server said who this is
    announce,
    // An ephemeral signal (`typing`): sent only while connected, never queued. Returns whether it went.
    signal(name, payload) {
      if (!socket || !socket.connected) return false;
      socket.emit(name, payload);
      return true;
    },
  };

  function start() {
    if (typeof window.io !== "function") return;
    // Every signed-in page connects, even with no room of its own: a secretary's notice reaches members on
    // whatever page they have open (the server puts each socket in its communities' rooms).

    // room -> {element, last (event id), pending (envelopes held while a subscribe is answered), attempt,
    //          failures (subscribes that could not be answered in a row), stale (given up: reload needed or not
    //          allowed), following (subscribed on this connection)}
    const rooms = new Map();
    for (const element of document.querySelectorAll("[data-room][data-last-event-id]")) {
      const room = element.dataset.room;
      const last = Number.parseInt(element.dataset.lastEventId, 10);
      if (!room || Number.isNaN(last) || rooms.has(room)) continue;
      rooms.set(room, { element, last, pending: null, attempt: 0, failures: 0, stale: false, following: false });
    }

    // --- Status line and notices -------------------------------------------------------------------------
    // One polite live region, always in the page, so adding a message to it is announced.
    const region = document.createElement("div");
    region.className = "live-messages";
    region.setAttribute("role", "status");
    document.body.append(region);
    let statusLine = null;
    let statusTimer = null;
    let reloadNotice = null;

    function showConnectionLost() {
      if (statusLine || !text.reconnecting) return;
      statusLine = document.createElement("p");
      statusLine.className = "live-status";
      statusLine.textContent = text.reconnecting;
      region.append(statusLine);
    }

    function connectionBack() {
      clearTimeout(statusTimer);
      statusTimer = null;
      if (statusLine) statusLine.remove();
      statusLine = null;
    }

    function showReloadNotice() {
      if (reloadNotice) return;
      // Never reload by itself: the reader may be typing a reply.
      reloadNotice = document.createElement("p");
      reloadNotice.className = "live-notice";
      reloadNotice.append(text.reload_notice || "", " ");
      const link = document.createElement("a");
      link.href = window.location.href.split("#")[0];
      link.textContent = text.reload || "↻";
      reloadNotice.append(link);
      region.append(reloadNotice);
    }

    // A secretary's notice, on any page: a line with a link, announced by the polite region. Never a pop-up.
    const noticesShown = new Set();
    function showNotice(envelope) {
      const data = envelope.data || {};
      if (noticesShown.has(envelope.id) || typeof data.url !== "string" || !data.url.startsWith("/")) return;
      noticesShown.add(envelope.id);
      const line = document.createElement("p");
      line.className = "live-notice notice-published";
      line.append((text.notice || "{name}").replace("{name}", data.author?.display_name || ""), " ");
      const link = document.createElement("a");
      link.href = data.url;
      link.textContent = data.title || "";
      const close = document.createElement("button");
      close.type = "button";
      close.className = "link dismiss";
      close.textContent = text.dismiss || "×";
      close.addEventListener("click", () => line.remove());
      line.append(link, " ", close);
      region.append(line);
    }

    // --- Personal counters and mutes: every page -----------------------------------------------------------
    // Unread private messages in the header: the full count, from `ready` and then each `unread.changed`.
    // The bell: the full count of unread notifications, from `ready` and then each `notifications.changed`.
    function setCount(element, count) {
      if (!element || typeof count !== "number") return;
      element.textContent = count > 0 ? ` ${count}` : "";
      element.hidden = count <= 0;
    }
    const setUnread = (count) => setCount(document.getElementById("unread-count"), count);
    const setNotifications = (count) => setCount(document.getElementById("notification-count"), count);

    // Muted by a secretary (or the mute lifted): this community's open message boxes say so and stop sending
    // (the server refuses them anyway), or work again. A thread's reply box depends on more (locked, hidden):
    // its page asks the server on `linli:muted`.
    function setMuted(data) {
      const muted = Boolean(data.muted_until);
      const forms = document.querySelectorAll(`form[data-community-id="${Number(data.community_id)}"]`);
      for (const form of forms) {
        if (form.classList.contains("reply-form")) continue;
        for (const control of form.querySelectorAll("textarea, input, button")) control.disabled = muted;
      }
      document.dispatchEvent(new CustomEvent("linli:muted", { detail: data }));
      const note = document.querySelector(".live-muted");
      if (note && forms.length > 0) {
        note.textContent = muted ? (text.muted || "{reason}").replace("{reason}", data.reason || "") : "";
        note.hidden = !muted;
      }
    }

    // Events of this connection's own person, whatever room they came by: never a page's.
    const personal = new Map([
      ["unread.changed", (data) => setUnread(data.unread)],
      ["notifications.changed", (data) => setNotifications(data.unread)],
      ["member.muted", setMuted],
    ]);

    // --- Following rooms -----------------------------------------------------------------------------------
    // <html data-live="on"> once every room is followed (or given up), "off" while disconnected: for tests.
    function setLive(value) {
      document.documentElement.dataset.live = value;
    }

    function apply(state, envelope) {
      if (typeof envelope.id !== "number" || envelope.id <= state.last) return; // seen already: exactly once
      state.last = envelope.id;
      // Bubbles, so a script may also listen on the document; a renderer's error stays its own.
      state.element.dispatchEvent(new CustomEvent("linli:event", { detail: envelope, bubbles: true }));
    }

    socket = window.io({ transports: ["websocket"] });

    socket.on("ready", (hello) => {
      if (!hello) return;
      if (typeof hello.user_id === "number") myUserId = hello.user_id;
      setUnread(hello.unread);
      setNotifications(hello.notifications);
    });

    // Ephemeral signals (someone typing, readers present) are not events: no id, no replay. The page's
    // scripts pick out their own (static/js/live-typing.js, live-thread.js).
    for (const name of ["typing", "presence"]) {
      socket.on(name, (signal) => {
        if (signal && typeof signal === "object") {
          document.dispatchEvent(new CustomEvent(`linli:${name}`, { detail: signal }));
        }
      });
    }

    // Taken out of a room (removed from the community): the page stays as it is, without live updates, and
    // says why; the room's renderer stops what no longer applies (a reply box, "… is replying").
    let revokedShown = false;
    socket.on("revoked", (signal) => {
      const state = signal && rooms.get(signal.room);
      if (!state) return;
      state.stale = true;
      state.attempt += 1;
      state.element.dispatchEvent(new CustomEvent("linli:revoked", { detail: { room: signal.room }, bubbles: true }));
      if (revokedShown || !text.revoked) return;
      revokedShown = true;
      const line = document.createElement("p");
      line.className = "live-notice revoked";
      line.textContent = text.revoked;
      region.append(line);
    });

    socket.on("event", (envelope) => {
      if (!envelope || typeof envelope !== "object") return;
      const state = rooms.get(envelope.room);
      if (!state) {
        if (personal.has(envelope.type)) personal.get(envelope.type)(envelope.data || {});
        else if (envelope.type === "notice.published") showNotice(envelope); // a community this page does not follow
        return;
      }
      if (state.stale) return;
      // While a subscribe is being answered, the replay and live events can interleave: hold them, then apply
      // in id order once the answer arrives.
      if (state.pending) state.pending.push(envelope);
      else apply(state, envelope);
    });

    async function subscribe(room, state) {
      const attempt = ++state.attempt;
      state.pending = [];
      let answer;
      try {
        answer = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("subscribe", { room, after: state.last });
      } catch {
        answer = null; // timed out or disconnected meanwhile; `connect` subscribes again
      }
      if (attempt !== state.attempt) return; // a newer subscribe (after a reconnect) took over
      const held = state.pending;
      state.pending = null;
      if (answer && answer.ok) {
        held.sort((a, b) => a.id - b.id);
        for (const envelope of held) apply(state, envelope);
        state.following = true;
        state.failures = 0;
      } else if (answer && answer.reload) {
        // Missed events were pruned or are too many: stop following and ask for a reload.
        state.stale = true;
        socket.emit("unsubscribe", { room });
        showReloadNotice();
      } else if (!answer || answer.error === "unavailable") {
        // Timed out, or the server could not answer now (its database is away or busy): try again while
        // connected, waiting longer each time and not all pages at once, so the room resumes once the database
        // is back without a crowd of retries meanwhile; `connect` subscribes again after a reconnection anyway.
        state.failures += 1;
        const wait = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** Math.min(state.failures - 1, 5));
        if (socket.connected) {
          setTimeout(
            () => {
              if (attempt === state.attempt && socket.connected) subscribe(room, state);
            },
            wait / 2 + Math.random() * (wait / 2),
          );
        }
      } else {
        // {ok: false, error}: not allowed (any more); the page stays as rendered, without live updates.
        state.stale = true;
      }
      if ([...rooms.values()].every((each) => each.following || each.stale)) setLive("on");
    }

    socket.on("connect", () => {
      connectionBack();
      if (rooms.size === 0) setLive("on");
      for (const [room, state] of rooms) {
        if (!state.stale) subscribe(room, state);
      }
    });

    socket.on("disconnect", () => {
      setLive("off");
      for (const state of rooms.values()) {
        state.attempt += 1; // answers still on their way are void
        state.following = false;
      }
      if (!socket.active) return; // the server ended the session: it will not reconnect, nothing to promise
      clearTimeout(statusTimer);
      statusTimer = setTimeout(showConnectionLost, STATUS_DELAY_MS);
    });

    // Refusals that pass (the server busy, this account's other tabs at their limit, too many failed connects
    // from this address): socket.io-client gives up after any refusal, so try again a little later, waiting
    // longer each time. Any other refusal (signed out) is final: the page works as before, without live updates.
    const PASSING = new Set(["unavailable", "too_many_connections", "rate_limited"]);
    let refusals = 0;
    socket.on("connect", () => {
      refusals = 0;
    });
    socket.on("connect_error", (error) => {
      if (socket.active) {
        if (!statusTimer && !statusLine) statusTimer = setTimeout(showConnectionLost, STATUS_DELAY_MS);
      } else if (PASSING.has(error?.message)) {
        refusals += 1;
        if (!statusTimer && !statusLine) statusTimer = setTimeout(showConnectionLost, STATUS_DELAY_MS);
        setTimeout(() => socket.connect(), Math.min(60000, RETRY_MS * 2 ** Math.min(refusals, 5)));
      } else {
        connectionBack();
      }
    });
  }

  // After every deferred script ran (DOMContentLoaded follows them): the page's renderers listen on their
  // rooms' elements before the first event can arrive.
  let started = false;
  const startOnce = () => {
    if (started) return;
    started = true;
    start();
  };
  if (document.readyState === "complete") startOnce();
  else {
    document.addEventListener("DOMContentLoaded", startOnce);
    window.addEventListener("load", startOnce);
  }
})();
