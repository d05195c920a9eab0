// Portcullis: the strength meter and the "Show password" control of the forms where a new
// password is chosen (register, reset, change, invitation, setup). Progressive enhancement:
// the markup ships both hidden, and without this script the form works as before and the
// server's check (length and zxcvbn, with the reason) is the one that counts. Loaded as a file
// because the CSP allows no inline script.
(function () {
  "use strict";

  // A few of the passwords and words every guessing list starts with.
  var COMMON = ["password", "passwort", "qwerty", "azerty", "123456", "654321", "letmein",
    "welcome", "iloveyou", "admin", "monkey", "dragon", "football", "baseball", "sunshine",
    "princess", "master", "login", "abc123", "111111", "000000", "portcullis", "secret"];

  // A rough estimate, in the spirit of zxcvbn (which is too large to send to every browser):
  // the alphabet in use, each character counted less when it repeats or continues a run, and
  // common words taken off. Returns 0 (weakest) to 4.
  function estimate(password) {
    var pool = 0;
    if (/[a-z]/.test(password)) pool += 26;
    if (/[A-Z]/.test(password)) pool += 26;
    if (/[0-9]/.test(password)) pool += 10;
    if (/[^A-Za-z0-9]/.test(password)) pool += 33;
    var chars = Array.from(password);
    var effective = 0;
    for (var i = 0; i < chars.length; i++) {
      var c = chars[i].codePointAt(0);
      var prev = i > 0 ? chars[i - 1].codePointAt(0) : NaN;
      effective += (c === prev || c === prev + 1 || c === prev - 1) ? 0.25 : 1;
    }
    var lower = password.toLowerCase();
    COMMON.forEach(function (word) {
      if (lower.indexOf(word) !== -1) effective -= word.length * 0.8;
    });
    var bits = Math.max(0, effective) * Math.log2(Math.max(pool, 2));
    if (bits < 30) return 0;
    if (bits < 45) return 1;
    if (bits < 60) return 2;
    if (bits < 80) return 3;
    return 4;
  }

  var WORDS = ["very weak", "weak", "fair", "good", "strong"];

  function meter(m) {
    var input = document.getElementById(m.getAttribute("data-for"));
    var out = document.getElementById(m.getAttribute("data-output"));
    if (!input || !out) return;
    var min = parseInt(m.getAttribute("data-min-length") || "12", 10);
    m.hidden = false;
    out.hidden = false;
    function update() {
      var value = input.value;
      var length = Array.from(value).length;
      if (length === 0) {
        m.value = 0;
        out.textContent = "Strength: type a password (at least " + min + " characters).";
      } else if (length < min) {
        m.value = 0;
        out.textContent = "Too short: " + length + " of at least " + min + " characters.";
      } else {
        var score = estimate(value);
        m.value = score;
        out.textContent = "Strength: " + WORDS[score] + (score < 3
          ? ". Add another word or two; uncommon words are better."
          : ". (An estimate: the server checks it when you submit.)");
      }
    }
    input.addEventListener("input", update);
    update();
  }

  function reveal(button) {
    var ids = (button.getAttribute("data-reveal") || "").split(" ");
    var inputs = ids.map(function (id) { return document.getElementById(id); })
      .filter(function (el) { return el; });
    if (inputs.length === 0) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var show = inputs[0].type === "password";
      inputs.forEach(function (el) { el.type = show ? "text" : "password"; });
      button.setAttribute("aria-pressed", show ? "true" : "false");
      button.textContent = show ? "Hide password" : "Show password";
    });
    // Back to dots before the form goes, so no browser keeps the text field's value around.
    var form = inputs[0].form;
    if (form) {
      form.addEventListener("submit", function () {
        inputs.forEach(function (el) { el.type = "password"; });
      });
    }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("meter[data-for]"), meter);
    Array.prototype.forEach.call(document.querySelectorAll("button[data-reveal]"), reveal);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
