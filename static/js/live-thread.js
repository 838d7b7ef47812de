// A thread's page, live (templates/threads/show.html): new replies at the end, with a bar when they land below
// the screen, and likes, edits, deletions, hiding, locking and the number of readers as they happen.
// static/js/live.js follows the thread's room and hands each of its events to #posts as a `linli:event`.
// Progressive: without it the page works, and shows the thread as of its loading.
"use strict";

(() => {
  const SCROLLED_UP_PX = 200; // a new post further than this below the viewport is "unseen"

  const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function start() {
    const posts = document.getElementById("posts");
    if (!posts || !window.linliDom || !window.linliLive) return;
    const { personElement, galleryElement, highlight, timeElement, strings } = window.linliDom;
    const { announce, userId } = window.linliLive;
    const text = { ...strings("live-strings"), ...strings("thread-strings") };

    // --- New replies bar: appended posts below the viewport that the reader has not scrolled to yet ----------
    const unseen = [];
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
      if (!bar) {
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
      bar.firstElementChild.textContent = (text.new_replies || "{num}").replace("{num}", String(unseen.length));
      bar.hidden = false;
    }

    function addPost(data) {
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
        if (userId() !== null && data.author && data.author.id === userId() && text.edit) {
          // One's own reply, arriving in another tab: editable there too, as after a reload.
          const edit = document.createElement("a");
          edit.href = `/posts/${Number(data.post_id)}/edit`;
          edit.textContent = text.edit;
          copy.append(" ", edit);
        }
        article.append(copy);
      }

      // Keep numeric order even if an earlier reply arrives late (it never should; the page stays right if so).
      const later = [...posts.querySelectorAll(":scope > article.post[data-number]")].find(
        (post) => Number(post.dataset.number) > data.number,
      );
      posts.insertBefore(article, later || null);
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

    // The post's text gives way to a short note (deleted by its author, hidden by a secretary).
    function replaceBody(post, className, note) {
      const body = post.querySelector(".post-body");
      if (!body) return;
      const line = document.createElement("p");
      line.className = className;
      line.textContent = note || "";
      body.replaceWith(line);
    }

    function setDeleted(data) {
      const post = postOnPage(data);
      if (!post) return;
      post.classList.add("deleted");
      post.querySelector(".post-footer")?.remove();
      post.querySelector(".post-gallery")?.remove(); // the pictures of a deleted post are gone
      post.querySelector(".edited")?.remove();
      replaceBody(post, "post-body meta", text.deleted);
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
      replaceBody(post, "post-body meta hidden-note", text.hidden);
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

    // Whether this reader may reply now is the server's one rule (forum.permissions.can_reply: locked, hidden,
    // muted, the reader a secretary or not), not worked out again here: whenever one of those changes, the page
    // asks the server and sets the reply box by its answer. The box keeps what was typed either way.
    const replyForm = document.querySelector("form.reply-form");
    let asking = null;
    function refreshReplying() {
      if (!replyForm || !replyForm.dataset.threadId) return;
      asking?.abort();
      asking = new AbortController();
      // `after` past the last post: the answer carries no posts, only the thread's state for this reader.
      const url = `/api/v1/threads/${encodeURIComponent(replyForm.dataset.threadId)}?after=2147483647`;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: asking.signal })
        .then((response) => (response.ok ? response.json() : null))
        .then((answer) => {
          if (answer && typeof answer.can_reply === "boolean") setReplying(answer.can_reply);
        })
        .catch(() => {}); // offline or aborted: the next change asks again, and the server refuses anyway
    }

    function setReplying(allowed) {
      if (!replyForm) return;
      for (const control of replyForm.querySelectorAll("textarea, input, button")) control.disabled = !allowed;
    }
    document.addEventListener("linli:muted", refreshReplying);

    // Locked or unlocked: the note with the reason, and the reply box.
    function setLocked(data) {
      const note = document.getElementById("lock-note");
      if (note) {
        note.hidden = !data.locked;
        const reason = note.querySelector(".lock-reason");
        if (reason) reason.textContent = data.reason || "";
      }
      refreshReplying();
    }

    // The whole thread hidden by a secretary: say so and stop replies; shown again, the note goes (a reload
    // brings back what was missed).
    function setThreadHidden(data) {
      const note = document.querySelector(".live-thread-hidden");
      if (note) note.hidden = !data.hidden;
      refreshReplying();
    }

    const renderers = new Map([
      ["post.created", addPost],
      ["post.liked", setLikes],
      ["post.edited", setEdited],
      ["post.deleted", setDeleted],
      ["post.hidden", setHidden],
      ["post.shown", setShown],
      ["thread.locked", setLocked],
      ["thread.hidden", setThreadHidden],
    ]);
    posts.addEventListener("linli:event", (event) => {
      const envelope = event.detail || {};
      renderers.get(envelope.type)?.(envelope.data || {});
    });

    // "N neighbours reading": counted by the server across processes, shown once someone else is here too.
    const readers = document.getElementById("readers");
    document.addEventListener("linli:presence", (event) => {
      const signal = event.detail;
      if (!readers || typeof signal.count !== "number") return;
      if (Number(readers.dataset.threadId) !== signal.thread_id) return;
      readers.textContent = (text.readers || "{num}").replace("{num}", String(signal.count));
      readers.hidden = signal.count < 2;
    });

    // No longer allowed to read the thread here: nobody to count, and a reply would be refused. The reply box
    // keeps what was typed.
    posts.addEventListener("linli:revoked", () => {
      if (readers) readers.hidden = true;
      for (const button of document.querySelectorAll("form.reply-form button[type=submit]")) button.disabled = true;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
