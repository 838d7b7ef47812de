// Writing a reply: "Quote" fills the reply box in place, and "@" suggests neighbours to mention.
// Progressive: without this file "Quote" is a link to the thread's last page with the reply box filled in by
// the server, and a mention is typed as @username by hand.
"use strict";

(() => {
  const SUGGEST_DELAY_MS = 150;
  const MAX_TYPED = 32;
  // The "@word" just before the caret, not inside an e-mail address (mirrors forum.markup.MENTION_RE).
  const TYPED_MENTION = /(?:^|[^A-Za-z0-9_.@/-])@([^\s@]{0,32})$/;

  function replyBox() {
    return document.querySelector("form.reply-form textarea[name=body]");
  }

  function insertAtEnd(textarea, text) {
    const current = textarea.value.replace(/\s+$/, "");
    textarea.value = current ? `${current}\n\n${text}` : text;
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    textarea.scrollIntoView({ block: "center" });
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // --- Quote ---------------------------------------------------------------------------------------------
  document.addEventListener("click", async (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.quote") : null;
    const textarea = replyBox();
    if (!link || !textarea || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    try {
      const response = await fetch(link.href, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const answer = await response.json();
      if (typeof answer.markdown !== "string") throw new Error("no markdown");
      insertAtEnd(textarea, answer.markdown);
    } catch {
      window.location.assign(link.href); // the page that works without scripts
    }
  });

  // --- @mention suggestions: an ARIA 1.2 combobox on the textarea ----------------------------------------
  function setUpMentions(textarea) {
    const source = textarea.dataset.mentionSource;
    if (!source) return;
    const list = document.createElement("ul");
    list.id = `${textarea.id}-mentions`;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    textarea.after(list);
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", list.id);
    textarea.setAttribute("aria-expanded", "false");

    let people = [];
    let active = -1;
    let timer = null;
    let asked = 0;

    function close() {
      list.hidden = true;
      list.replaceChildren();
      people = [];
      active = -1;
      textarea.setAttribute("aria-expanded", "false");
      textarea.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      for (const [i, option] of [...list.children].entries()) option.setAttribute("aria-selected", String(i === index));
      if (index >= 0) textarea.setAttribute("aria-activedescendant", `${list.id}-${index}`);
      else textarea.removeAttribute("aria-activedescendant");
    }

    function typedMention() {
      const before = textarea.value.slice(0, textarea.selectionStart);
      const match = TYPED_MENTION.exec(before);
      return match ? { word: match[1], start: before.length - match[1].length - 1 } : null;
    }

    function choose(index) {
      const person = people[index];
      const typed = typedMention();
      if (!person || !typed) return close();
      const caret = textarea.selectionStart;
      const inserted = `@${person.username} `;
      textarea.value = textarea.value.slice(0, typed.start) + inserted + textarea.value.slice(caret);
      const at = typed.start + inserted.length;
      textarea.setSelectionRange(at, at);
      close();
      textarea.focus();
    }

    function show(found) {
      people = found;
      list.replaceChildren();
      if (people.length === 0) return close();
      for (const [i, person] of people.entries()) {
        const option = document.createElement("li");
        option.id = `${list.id}-${i}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        const name = document.createElement("span");
        name.textContent = person.display_name;
        const handle = document.createElement("span");
        handle.className = "meta";
        handle.textContent = ` @${person.username}`;
        option.append(name, handle);
        if (person.is_party_member) {
          const badge = document.getElementById("badge-template");
          if (badge) option.append(" ", badge.content.firstElementChild.cloneNode(true));
        }
        // mousedown, not click: the textarea keeps its focus and caret.
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(i);
        });
        list.append(option);
      }
      list.hidden = false;
      textarea.setAttribute("aria-expanded", "true");
      highlight(0);
    }

    async function suggest() {
      const typed = typedMention();
      if (!typed || typed.word.length === 0 || typed.word.length > MAX_TYPED) return close();
      const ticket = ++asked;
      try {
        const url = `${source}?q=${encodeURIComponent(typed.word)}`;
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        const answer = response.ok ? await response.json() : { people: [] };
        if (ticket === asked) show(Array.isArray(answer.people) ? answer.people : []);
      } catch {
        if (ticket === asked) close();
      }
    }

    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(suggest, SUGGEST_DELAY_MS);
    });
    textarea.addEventListener("keydown", (event) => {
      if (list.hidden || people.length === 0) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + people.length) % people.length);
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0 && !event.isComposing) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    textarea.addEventListener("blur", () => setTimeout(close, 100));
  }

  function start() {
    for (const textarea of document.querySelectorAll("textarea[data-mention-source]")) setUpMentions(textarea);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
