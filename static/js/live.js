// Live updates: new replies appear in an open thread, new threads in an open board, without reloading.
// Progressive: every page works without this file (or without WebSockets); it only adds what others post.
// The server contract is docs/realtime.md. Strings come from <template id="live-strings"> in base.html, so
// they are translated with the rest of the page; nothing here is evaluated or loaded from another origin.
"use strict";

(() => {
  const SCROLLED_UP_PX = 200; // a new post further than this below the viewport is "unseen"
  const STATUS_DELAY_MS = 3000; // say the connection is lost only after this long
  const RETRY_MS = 2000; // a subscribe that failed while connected is tried again after this long
  const ACK_TIMEOUT_MS = 10000;
  const ANNOUNCE_CHARS = 80;
  const HIGHLIGHT_MS = 4000; // matches the animation in linli.css
  const TYPING_SHOW_MS = 5000;
  const TYPING_SEND_MS = 2000; // the server relays one signal per client every two seconds anyway

  const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const lang = () => document.documentElement.lang || undefined;

  function strings() {
    const found = {};
    const holder = document.getElementById("live-strings");
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

  // The pictures of a live reply, as _post.html renders them: thumbnails linking to the full pictures.
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

  // The pages' own scripts (static/js/sales.js, market.js) render their rooms' events with the same pieces.
  window.linliDom = { personElement, galleryElement, highlight };

  function start() {
    if (typeof window.io !== "function") return;
    // Every signed-in page connects, even with no room of its own: a secretary's notice reaches members on
    // whatever page they have open (the server puts each socket in its communities' rooms).
    const elements = document.querySelectorAll("[data-room][data-last-event-id]");
    const text = strings();

    // room -> {element, last (event id), pending (envelopes held while a subscribe is answered), attempt,
    //          stale (given up: reload needed or not allowed), following (subscribed on this connection)}
    const rooms = new Map();
    for (const element of elements) {
      const room = element.dataset.room;
      const last = Number.parseInt(element.dataset.lastEventId, 10);
      if (!room || Number.isNaN(last) || rooms.has(room)) continue;
      // A board's older pages (?before=...) do not get new threads at their top.
      if (room.startsWith("board:") && new URLSearchParams(window.location.search).has("before")) continue;
      rooms.set(room, { element, last, pending: null, attempt: 0, stale: false, following: false });
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

    // --- New replies bar and the screen-reader announcer ---------------------------------------------------
    const unseen = []; // appended posts below the viewport that the reader has not scrolled to yet
    let bar = null;
    const watcher =
      "IntersectionObserver" in window
        ? new IntersectionObserver((entries) => {
            for (const entry of entries) {
              if (!entry.isIntersecting) continue;
              watcher.unobserve(entry.target);
              const index = unseen.indexOf(entry.target);
              if (index >= 0) unseen.splice(index, 1);
            }
            updateBar();
          })
        : null;

    function updateBar() {
      if (unseen.length === 0) {
        if (bar) bar.hidden = true;
        return;
      }
      const posts = document.getElementById("posts");
      if (!bar && posts) {
        bar = document.createElement("div");
        bar.className = "new-replies-bar";
        const button = document.createElement("button");
        button.type = "button";
        button.addEventListener("click", () => {
          const first = unseen[0];
          unseen.length = 0;
          if (watcher) watcher.disconnect();
          bar.hidden = true;
          if (!first) return;
          first.setAttribute("tabindex", "-1");
          first.scrollIntoView({ behavior: reducedMotion() ? "auto" : "smooth", block: "start" });
          first.focus({ preventScroll: true });
        });
        bar.append(button);
        posts.after(bar);
      }
      if (!bar) return;
      bar.firstElementChild.textContent = (text.new_replies || "{num}").replace("{num}", String(unseen.length));
      bar.hidden = false;
    }

    const announcer = document.getElementById("live-announcer");
    let announcements = [];
    function announce(name, body) {
      if (!announcer) return;
      const words = body.replace(/\s+/g, " ").trim();
      const short = words.length > ANNOUNCE_CHARS ? `${words.slice(0, ANNOUNCE_CHARS)}…` : words;
      announcements.push(`${name}: ${short}`);
      if (announcements.length > 1) return;
      // Several replies at once (a replay after reconnecting) are announced as one count, not read out in full.
      queueMicrotask(() => {
        announcer.textContent =
          announcements.length === 1
            ? announcements[0]
            : (text.new_replies || "{num}").replace("{num}", String(announcements.length));
        announcements = [];
      });
    }

    // --- Rendering events ----------------------------------------------------------------------------------
    function addPost(container, data) {
      if (document.getElementById(`post-${data.number}`)) return;
      const article = document.createElement("article");
      article.className = "post";
      article.id = `post-${data.number}`;
      article.dataset.number = String(data.number);
      article.dataset.postId = String(data.post_id);

      const header = document.createElement("header");
      header.className = "post-header";
      const link = document.createElement("a");
      link.className = "meta";
      link.href = data.url;
      link.append(timeElement(data.created_at));
      header.append(personElement(data.author), " ", link);
      if (data.number > 1) {
        const floor = document.createElement("span");
        floor.className = "meta";
        floor.textContent = `#${data.number - 1}`;
        header.append(" ", floor);
      }
      const body = document.createElement("div");
      body.className = "post-body";
      // The one place HTML from the server is inserted: body_html was sanitised by nh3 before it was stored.
      body.innerHTML = data.body_html;
      article.append(header, body);
      const gallery = galleryElement(data.images);
      if (gallery) article.append(gallery);
      const footer = document.getElementById("post-footer-template");
      if (footer) {
        const copy = footer.content.firstElementChild.cloneNode(true);
        copy.querySelector("button.like").setAttribute("formaction", `/posts/${Number(data.post_id)}/like`);
        copy.querySelector("a.like-count").href = `/posts/${Number(data.post_id)}/likes`;
        const quote = copy.querySelector("a.quote");
        if (quote) quote.href = `/posts/${Number(data.post_id)}/quote`;
        if (myUserId !== null && data.author && data.author.id === myUserId && text.edit) {
          // One's own reply, arriving in another tab: editable there too, as after a reload.
          const edit = document.createElement("a");
          edit.href = `/posts/${Number(data.post_id)}/edit`;
          edit.textContent = text.edit;
          copy.append(" ", edit);
        }
        article.append(copy);
      }

      // Keep numeric order even if an earlier reply arrives late (it never should; the page stays right if so).
      const later = [...container.querySelectorAll(":scope > article.post[data-number]")].find(
        (post) => Number(post.dataset.number) > data.number,
      );
      container.insertBefore(article, later || null);
      highlight(article);

      if (article.getBoundingClientRect().top - window.innerHeight > SCROLLED_UP_PX) {
        unseen.push(article);
        if (watcher) watcher.observe(article);
        updateBar();
      }
      announce(data.author.display_name, body.textContent);
      // Their reply is here: "… is replying" about them is over.
      const typing = document.getElementById("typing");
      if (typing && typing.dataset.userId === String(data.author.id)) typing.hidden = true;
    }

    function addThread(list, data) {
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

    // A thank-you letter written while the wall is open: at the top, as letters/_letter.html shows it (likes
    // and the recipients' buttons come with the next page load).
    function addLetter(container, data) {
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
      container.prepend(card);
      const empty = document.getElementById("no-letters");
      if (empty) empty.hidden = true;
      highlight(card);
      announce(data.author.display_name, data.title);
    }

    function setLetterLikes(data) {
      const number = document.getElementById(`letter-${Number(data.letter_id)}`)?.querySelector(".like-number");
      if (number) number.textContent = String(data.like_count);
    }

    // The review queue: a secretary is told how many items wait now, and reloads to see them.
    function setReviewWaiting(queue, data) {
      const news = queue.querySelector(".review-news");
      if (!news || Number(data.waiting) === Number(queue.dataset.waiting)) return;
      if (!news.dataset.template) news.dataset.template = news.firstChild.textContent;
      news.firstChild.textContent = news.dataset.template.replace("{waiting}", String(Number(data.waiting)));
      news.hidden = false;
    }

    // A letter hidden by a secretary (or by flags) leaves the wall; one shown again appears on the next load.
    function setLetterHidden(data) {
      if (data.hidden) document.getElementById(`letter-${Number(data.letter_id)}`)?.remove();
    }

    // Likes, edits and deletions of posts on this page; posts on other pages are simply not here.
    function postOnPage(data) {
      return document.getElementById(`post-${Number(data.number)}`);
    }

    function setLikes(data) {
      const number = postOnPage(data)?.querySelector(".like-number");
      if (number) number.textContent = String(data.like_count); // the full count: a lost event heals here
    }

    function setEdited(data) {
      const post = postOnPage(data);
      const body = post?.querySelector(".post-body");
      if (!post || !body || post.classList.contains("deleted")) return;
      body.innerHTML = data.body_html; // sanitised by nh3 on the server, like post.created's body
      if (data.moderator_note) { // a secretary's edit: the note everyone sees under the post
        let note = post.querySelector(".moderator-note");
        if (!note) {
          note = document.createElement("p");
          note.className = "meta moderator-note";
          body.after(note);
        }
        note.textContent = `${text.moderated || ""} ${data.moderator_note}`;
      }
      if (!post.querySelector(".edited")) {
        const mark = document.createElement("span");
        mark.className = "meta edited";
        mark.textContent = text.edited || "";
        post.querySelector(".post-header")?.append(" ", mark);
      }
      highlight(post);
    }

    function setDeleted(data) {
      const post = postOnPage(data);
      if (!post) return;
      post.classList.add("deleted");
      post.querySelector(".post-footer")?.remove();
      post.querySelector(".post-gallery")?.remove(); // the pictures of a deleted post are gone
      post.querySelector(".edited")?.remove();
      const body = post.querySelector(".post-body");
      if (body) {
        const note = document.createElement("p");
        note.className = "post-body meta";
        note.textContent = text.deleted || "";
        body.replaceWith(note);
      }
    }

    // A secretary hid a reply: it goes from every open page (its author and the secretaries see it, and why,
    // after a reload).
    function setHidden(data) {
      const post = postOnPage(data);
      if (!post) return;
      post.classList.add("hidden-post");
      post.querySelector(".post-footer")?.remove();
      post.querySelector(".post-gallery")?.remove();
      post.querySelector(".hidden-reason")?.remove();
      const body = post.querySelector(".post-body");
      if (body) {
        const note = document.createElement("p");
        note.className = "post-body meta hidden-note";
        note.textContent = text.hidden || "";
        body.replaceWith(note);
      }
    }

    // Shown again: its text returns (sanitised HTML, as for an edit); the rest of it comes with a reload.
    function setShown(data) {
      const post = postOnPage(data);
      if (!post) return;
      post.classList.remove("hidden-post");
      post.querySelector(".hidden-reason")?.remove();
      const body = document.createElement("div");
      body.className = "post-body";
      body.innerHTML = data.body_html; // sanitised by nh3 before it was stored
      const old = post.querySelector(".post-body");
      if (old) old.replaceWith(body);
      else post.append(body);
    }

    // Locked or unlocked: the note with the reason, and the reply box (secretaries keep theirs).
    function setLocked(data) {
      const note = document.getElementById("lock-note");
      if (note) {
        note.hidden = !data.locked;
        const reason = note.querySelector(".lock-reason");
        if (reason) reason.textContent = data.reason || "";
      }
      const form = document.querySelector("form.reply-form[data-thread-id]");
      if (!form || form.dataset.moderator === "1") return;
      for (const control of form.querySelectorAll("textarea, input, button")) control.disabled = Boolean(data.locked);
    }

    // The whole thread hidden by a secretary: say so and stop replies (secretaries keep their box); shown
    // again, the note goes (a reload brings back what was missed).
    function setThreadHidden(data) {
      const note = document.querySelector(".live-thread-hidden");
      if (note) note.hidden = !data.hidden;
      const form = document.querySelector("form.reply-form[data-thread-id]");
      if (!form || form.dataset.moderator === "1") return;
      for (const control of form.querySelectorAll("textarea, input, button")) control.disabled = Boolean(data.hidden);
    }

    // --- Private messages (templates/messages/show.html) ------------------------------------------------
    // A message arriving live takes the place of the one this tab showed while sending it (same client_id,
    // see static/js/messages.js); the page being open and visible, it counts as read.
    function addMessage(list, data) {
      if (document.getElementById(`m-${Number(data.message_id)}`)) return;
      const item = document.createElement("li");
      const mine = myUserId !== null && data.sender && data.sender.id === myUserId;
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
      const sending = typeof data.client_id === "string"
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
      if (!mine) markRead(list, Number(data.message_id));
      // Their message is here: "… is writing" about them is over.
      const typing = document.getElementById("typing");
      if (typing && data.sender && typing.dataset.userId === String(data.sender.id)) typing.hidden = true;
    }

    // A message hidden after reports: its text and pictures leave the page (its sender sees them on reload,
    // with the secretary's reason); one shown again comes back on the next load.
    function setMessageHidden(data) {
      const item = document.getElementById(`m-${Number(data.message_id)}`);
      const template = document.getElementById("message-hidden-template");
      // Its sender keeps seeing it (with the secretary's reason after a reload), as the page shows it to them.
      if (!item || !data.hidden || !template || item.classList.contains("mine") || item.querySelector(".hidden-reason")) {
        return;
      }
      for (const part of item.querySelectorAll(".post-body, .post-gallery, .report-form")) part.remove();
      item.querySelector("header")?.after(template.content.firstElementChild.cloneNode(true));
    }

    let readTimer = null;
    function markRead(list, upTo) {
      list.dataset.readUpTo = String(Math.max(Number(list.dataset.readUpTo || 0), upTo));
      if (document.visibilityState !== "visible" || readTimer) return;
      readTimer = setTimeout(async () => {
        readTimer = null;
        const token = document.querySelector("form.message-form input[name=csrf_token]");
        if (!token || !list.dataset.readUrl) return;
        const form = new FormData();
        form.set("csrf_token", token.value);
        form.set("up_to", list.dataset.readUpTo);
        try {
          await fetch(list.dataset.readUrl, { method: "POST", body: form, credentials: "same-origin" });
        } catch {
          // Offline: the next visit to the page marks it read anyway.
        }
      }, 300);
    }
    document.addEventListener("visibilitychange", () => {
      const list = document.getElementById("messages");
      if (list && list.dataset.readUpTo && document.visibilityState === "visible") {
        markRead(list, Number(list.dataset.readUpTo));
      }
    });

    // "Read" stands under the viewer's newest message that every other participant has seen.
    function setRead(list, data) {
      let marks = {};
      try {
        marks = JSON.parse(list.dataset.marks || "{}");
      } catch {
        marks = {};
      }
      if (myUserId !== null && data.user_id === myUserId) return;
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

    function apply(state, envelope) {
      if (typeof envelope.id !== "number" || envelope.id <= state.last) return; // seen already: exactly once
      state.last = envelope.id;
      const data = envelope.data || {};
      if (state.element.id === "messages") {
        if (envelope.type === "message.created") addMessage(state.element, data);
        else if (envelope.type === "message.read") setRead(state.element, data);
        else if (envelope.type === "message.hidden") setMessageHidden(data);
      } else if (state.element.id === "posts") {
        if (envelope.type === "post.created") addPost(state.element, data);
        else if (envelope.type === "post.liked") setLikes(data);
        else if (envelope.type === "post.edited") setEdited(data);
        else if (envelope.type === "post.deleted") setDeleted(data);
        else if (envelope.type === "post.hidden") setHidden(data);
        else if (envelope.type === "post.shown") setShown(data);
        else if (envelope.type === "thread.locked") setLocked(data);
        else if (envelope.type === "thread.hidden") setThreadHidden(data);
      } else if (state.element.id === "letters") {
        if (envelope.type === "letter.created") addLetter(state.element, data);
        else if (envelope.type === "letter.liked") setLetterLikes(data);
        else if (envelope.type === "letter.hidden") setLetterHidden(data);
      } else if (state.element.id === "review-queue") {
        if (envelope.type === "review.changed") setReviewWaiting(state.element, data);
      } else if (envelope.type === "thread.created" && state.element.id === "threads") {
        addThread(state.element, data);
      } else {
        // Rooms this file does not render (the market's): the page's own script listens on its element.
        state.element.dispatchEvent(new CustomEvent("linli:event", { detail: envelope }));
      }
    }


    // --- The socket ----------------------------------------------------------------------------------------
    // <html data-live="on"> once every room is followed (or given up), "off" while disconnected: for tests.
    function setLive(value) {
      document.documentElement.dataset.live = value;
    }

    const socket = window.io({ transports: ["websocket"] });
    let myUserId = null; // from `ready`: who the server thinks this page belongs to
    // Unread private messages in the header: the full count, from `ready` and then each `unread.changed`.
    const unreadCount = document.getElementById("unread-count");
    function setUnread(count) {
      if (!unreadCount || typeof count !== "number") return;
      unreadCount.textContent = count > 0 ? ` ${count}` : "";
      unreadCount.hidden = count <= 0;
    }
    // The bell: the full count of unread notifications, from `ready` and then each `notifications.changed`.
    const notificationCount = document.getElementById("notification-count");
    function setNotifications(count) {
      if (!notificationCount || typeof count !== "number") return;
      notificationCount.textContent = count > 0 ? ` ${count}` : "";
      notificationCount.hidden = count <= 0;
    }
    // Muted by a secretary (or the mute lifted): this community's open reply and message boxes say so and stop
    // sending (the server refuses them anyway), or work again.
    function setMuted(data) {
      const muted = Boolean(data.muted_until);
      const forms = document.querySelectorAll(`form[data-community-id="${Number(data.community_id)}"]`);
      for (const form of forms) {
        for (const control of form.querySelectorAll("textarea, input, button")) control.disabled = muted;
      }
      const note = document.querySelector(".live-muted");
      if (note && forms.length > 0) {
        note.textContent = muted ? (text.muted || "{reason}").replace("{reason}", data.reason || "") : "";
        note.hidden = !muted;
      }
    }

    socket.on("ready", (hello) => {
      if (hello && typeof hello.user_id === "number") myUserId = hello.user_id;
      if (hello) {
        setUnread(hello.unread);
        setNotifications(hello.notifications);
      }
    });

    // "Someone is replying": shown for a few seconds, sent at most every two seconds while typing.
    const typingLine = document.getElementById("typing");
    let typingTimer = null;
    socket.on("typing", (signal) => {
      if (!typingLine || !signal || typeof signal.display_name !== "string") return;
      typingLine.dataset.userId = String(signal.user_id);
      const phrase = signal.conversation_id ? text.typing_message : text.typing;
      typingLine.textContent = (phrase || "{name}").replace("{name}", signal.display_name);
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingLine.hidden = true; }, TYPING_SHOW_MS);
    });
    const replyForm = document.querySelector("form.reply-form[data-thread-id], form.message-form[data-conversation-id]");
    let typingSent = 0;
    replyForm?.querySelector("textarea")?.addEventListener("input", () => {
      const now = Date.now();
      if (now - typingSent < TYPING_SEND_MS || !socket.connected) return;
      typingSent = now;
      socket.emit(
        "typing",
        replyForm.dataset.threadId
          ? { thread_id: Number(replyForm.dataset.threadId) }
          : { conversation_id: Number(replyForm.dataset.conversationId) },
      );
    });

    // "N neighbours reading": counted by the server across processes, shown once someone else is here too.
    const readersLine = document.getElementById("readers");
    socket.on("presence", (signal) => {
      if (!readersLine || !signal || typeof signal.count !== "number") return;
      if (Number(readersLine.dataset.threadId) !== signal.thread_id) return;
      readersLine.textContent = (text.readers || "{num}").replace("{num}", String(signal.count));
      readersLine.hidden = signal.count < 2;
    });

    // Taken out of a room (removed from the community): the page stays as it is, without live updates, says
    // why, and its reply box keeps what was typed but no longer sends it (the server would refuse it).
    let revokedShown = false;
    socket.on("revoked", (signal) => {
      const state = signal && rooms.get(signal.room);
      if (!state) return;
      state.stale = true;
      state.attempt += 1;
      if (readersLine) readersLine.hidden = true;
      if (typingLine) typingLine.hidden = true;
      for (const button of document.querySelectorAll("form.reply-form button[type=submit]")) button.disabled = true;
      if (revokedShown || !text.revoked) return;
      revokedShown = true;
      const line = document.createElement("p");
      line.className = "live-notice revoked";
      line.textContent = text.revoked;
      region.append(line);
    });

    socket.on("event", (envelope) => {
      const mine = envelope && myUserId !== null && envelope.room === `user:${myUserId}`;
      if (mine && envelope.type === "unread.changed") {
        setUnread(envelope.data && envelope.data.unread);
        return;
      }
      if (mine && envelope.type === "notifications.changed") {
        setNotifications(envelope.data && envelope.data.unread);
        return;
      }
      if (mine && envelope.type === "member.muted") {
        setMuted(envelope.data || {});
        return;
      }
      if (envelope && envelope.type === "notice.published" && !rooms.has(envelope.room)) {
        showNotice(envelope);
        return;
      }
      const state = envelope && rooms.get(envelope.room);
      if (!state || state.stale) return;
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
      } else if (answer && answer.reload) {
        // Missed events were pruned or are too many: stop following and ask for a reload.
        state.stale = true;
        socket.emit("unsubscribe", { room });
        showReloadNotice();
      } else if (!answer) {
        if (socket.connected) {
          setTimeout(() => {
            if (attempt === state.attempt && socket.connected) subscribe(room, state);
          }, RETRY_MS);
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

    socket.on("connect_error", () => {
      if (socket.active) {
        if (!statusTimer && !statusLine) statusTimer = setTimeout(showConnectionLost, STATUS_DELAY_MS);
      } else {
        connectionBack(); // refused (signed out): the page works as before, without live updates
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
