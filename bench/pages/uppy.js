// The Uppy reference: the Dashboard inline with the Tus plugin, uploading to Bifoga's tus endpoint.
// The visit and its token come in the URL fragment: #visit=<id>&token=<token>.
import { Dashboard, Tus, Uppy } from "./uppy.min.mjs";

const params = new URLSearchParams(location.hash.slice(1));
const visit = params.get("visit") || "";
const token = params.get("token") || "";

const marks = (window.benchMarks = {});
const uppy = new Uppy({ autoProceed: false, restrictions: { maxFileSize: 10 * 1024 * 1024 } })
  .use(Dashboard, { inline: true, target: "#uppy", proudlyDisplayPoweredByUppy: false })
  .use(Tus, {
    endpoint: location.origin + "/api/visits/" + encodeURIComponent(visit) + "/uploads",
    headers: { Authorization: "Bearer " + token },
    retryDelays: [0, 1000],
    limit: 1,
  });
uppy.on("upload", () => { marks.uploadStart = performance.now(); });
uppy.on("upload-success", () => { marks.uploadDone = performance.now(); });
uppy.on("upload-error", (file, error) => { marks.uploadError = String(error); });
window.benchUppy = uppy;

// Usable: the Dashboard's file input is in the document.
function usable() {
  if (document.querySelector(".uppy-Dashboard-input")) {
    window.benchUsable = performance.now();
    return true;
  }
  return false;
}
if (!usable()) {
  const observer = new MutationObserver(() => { if (usable()) observer.disconnect(); });
  observer.observe(document.body, { childList: true, subtree: true });
}
