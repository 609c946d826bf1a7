// Sandbox AAL2 page: a button that copies the helper's current code into the form, and a countdown.
(function () {
  "use strict";
  var button = document.getElementById("sandbox-use-code");
  var output = document.getElementById("sandbox-current-code");
  var input = document.getElementById("id_code");
  var left = document.getElementById("sandbox-seconds-left");
  if (button && output && input) {
    button.hidden = false;
    button.addEventListener("click", function () {
      input.value = output.textContent.trim();
      input.focus();
    });
  }
  if (left) {
    var seconds = parseInt(left.textContent, 10);
    var timer = window.setInterval(function () {
      seconds -= 1;
      if (seconds <= 0) {
        window.clearInterval(timer);
        left.textContent = "0";
        return;
      }
      left.textContent = String(seconds);
    }, 1000);
  }
})();
