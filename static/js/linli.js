// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // After a failed form, move focus to the summary so screen readers announce it and keyboards start there.
  const summary = document.getElementById("form-errors");
  if (summary) summary.focus();

  // Steps that cannot be undone (closing a sale, calling off a deal, removing a listing) ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }

  // "Share": the phone's share sheet (WeChat among its targets) where there is one, else the link is copied.
  // The link is the page's own address: whoever opens it still signs in and needs to be a member.
  for (const button of document.querySelectorAll("[data-share]")) {
    const done = button.nextElementSibling;
    if (!navigator.share && !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const url = new URL(button.dataset.share, window.location.href).href;
      try {
        if (navigator.share) await navigator.share({ title: document.title, url });
        else {
          await navigator.clipboard.writeText(url);
          if (done) done.hidden = false;
        }
      } catch {
        // Cancelled by the user, or not allowed: nothing to do.
      }
    });
  }
});
