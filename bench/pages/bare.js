// The bare reference page: pick a file, show it through an object URL. Nothing more.
(function () {
  "use strict";
  var input = document.getElementById("bare-input");
  var img = document.getElementById("bare-preview");
  var url = null;
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(file);
    img.src = url;
  });
  window.benchUsable = performance.now();
})();
