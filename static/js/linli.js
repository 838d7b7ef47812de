// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // After a failed form, move focus to the summary so screen readers announce it and keyboards start there.
  const summary = document.getElementById("form-errors");
  if (summary) summary.focus();

  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
