// Bifoga's shell, before Python is up. The paperclip in index.html is a native file input, so
// it works at first paint; this keeps what is chosen, dropped or pasted meanwhile, so that none
// of it is lost: main.py takes the files (components/browser.take_early_files), then previews
// and checks them. The files stay in this page's memory only, never in any browser storage.
// Deliberately tiny and plain: everything else is Python.
(() => {
  "use strict";
  const queued = [];
  const status = document.getElementById("picker-queued");
  const english = /^en/i.test(new URLSearchParams(location.search).get("lang") || "");
  if (english) {
    // The shell's few texts in English (the catalogue's, see index.html); Python renders all
    // texts again once it is up.
    document.documentElement.lang = "en";
    for (const el of document.querySelectorAll("[data-text]:not([data-sv])")) {
      el.textContent = el.dataset.en;
    }
  }
  const keep = (files) => {
    if (!files || !files.length) return false;
    for (const file of files) queued.push(file);
    status.textContent = english ? status.dataset.en : status.dataset.sv;
    return true;
  };
  const hasFiles = (event) => !!event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  const listeners = {
    change: (event) => {
      const input = event.target;
      if (input.type === "file" && keep(input.files)) input.value = "";
    },
    // Without these a file dropped on the page would replace the app with the file.
    dragover: (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    },
    drop: (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      keep(event.dataTransfer.files);
    },
    paste: (event) => {
      if (event.clipboardData && keep(event.clipboardData.files)) event.preventDefault();
    },
  };
  for (const [type, listener] of Object.entries(listeners)) {
    document.addEventListener(type, listener, true);
  }
  // Chosen before this ran (the input works from its first paint): kept all the same.
  for (const input of document.querySelectorAll('input[type="file"]')) {
    if (keep(input.files)) input.value = "";
  }
  window.bifogaShell = {
    // Called once by main.py when its components are in place: they listen from now on.
    take() {
      for (const [type, listener] of Object.entries(listeners)) {
        document.removeEventListener(type, listener, true);
      }
      status.textContent = "";
      return queued.splice(0);
    },
  };
  performance.mark("bifoga:usable");
  window.bifogaUsable = performance.now();
})();
