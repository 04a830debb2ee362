// kb: progressive enhancements only; every page works without this file.
(function () {
  "use strict";

  // Moving to a section from the table of contents also moves keyboard focus there.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".toc a[href^='#']");
    if (!link) return;
    var target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (target) {
      target.setAttribute("tabindex", "-1");
      window.setTimeout(function () { target.focus({ preventScroll: true }); }, 0);
    }
  });

  // Typeahead: titles and aliases while typing (a combobox in the ARIA sense).
  function setupSuggest(input) {
    var url = input.getAttribute("data-suggest");
    var form = input.form;
    var wrap = document.createElement("div");
    wrap.className = "suggest-wrap";
    // Moving the box into its wrapper drops focus (and the page's autofocus): give it back.
    var hadFocus = document.activeElement === input || input.hasAttribute("autofocus");
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    if (hadFocus) input.focus({ preventScroll: true });
    wrap.style.flex = "1 1 auto";
    wrap.style.display = "flex";
    var list = document.createElement("ul");
    list.className = "suggest";
    list.id = input.id + "-suggest";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    wrap.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    var items = [], active = -1, timer = null, last = "";

    function close() {
      list.hidden = true; list.innerHTML = ""; items = []; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(i) {
      items.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (i >= 0) input.setAttribute("aria-activedescendant", items[i].id);
    }
    function render(suggestions) {
      close();
      if (!suggestions.length) return;
      suggestions.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("lang", s.lang);
        li.dataset.url = s.url;
        li.textContent = s.label;
        if (s.lang_name) {
          // Not in the reader's language: say which, before they land on it.
          var l = document.createElement("span");
          l.className = "s-lang"; l.textContent = s.lang_name; l.setAttribute("lang", s.lang);
          li.appendChild(document.createTextNode(" "));
          li.appendChild(l);
        }
        if (s.title !== s.label) {
          var t = document.createElement("span");
          t.className = "s-title"; t.textContent = s.title;
          li.appendChild(t);
        }
        li.addEventListener("mousedown", function (e) { e.preventDefault(); window.location.href = s.url; });
        list.appendChild(li);
        items.push(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (timer) window.clearTimeout(timer);
      if (q.length < 2) { close(); return; }
      timer = window.setTimeout(function () {
        if (q === last) return;
        last = q;
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (data) { if (input.value.trim() === q) render(data.suggestions || []); })
          .catch(function () { close(); });
      }, 120);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, -1)); }
      else if (e.key === "Escape") { close(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); window.location.href = items[active].dataset.url; }
    });
    input.addEventListener("blur", function () { window.setTimeout(close, 150); });
    if (form) form.addEventListener("submit", close);
  }
  document.querySelectorAll("input[data-suggest]").forEach(setupSuggest);
})();

// Feedback forms: send without a page reload, announce the answer, keep focus sensible.
(function () {
  "use strict";
  // The section the reader came to: the fragment they arrived with (a search result's anchor),
  // when it names a heading of the article. Not the heading on screen at Send: the form is at
  // the bottom, so that would nearly always be the last one.
  var arrivedAt = (function () {
    var id = "";
    try { id = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { return ""; }
    var h = id && document.getElementById(id);
    return h && h.closest && h.closest(".article-body") && /^H[1-6]$/.test(h.tagName) ? id : "";
  })();
  document.querySelectorAll("textarea[data-counter]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-counter"));
    var max = parseInt(area.getAttribute("maxlength"), 10);
    var template = out.textContent;
    function update() { out.textContent = (max - area.value.length) + " / " + max; }
    area.addEventListener("input", update);
    out.setAttribute("data-initial", template);
  });
  document.querySelectorAll("form[data-feedback]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var section = form.querySelector("input[name=section]");
      if (section) section.value = arrivedAt;
      if (!window.fetch || !window.FormData) return;  // plain POST and redirect
      event.preventDefault();
      var box = form.closest(".feedback");
      var result = box.querySelector(".feedback-result");
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-Requested-With": "fetch" },
        credentials: "same-origin"
      }).then(function (r) {
        return r.json().catch(function () { return { ok: false, message: r.statusText }; });
      }).then(function (data) {
        // html is the server's escaped receipt, with the reference linking to My requests.
        if (data.ok && data.html) result.innerHTML = data.html; else result.textContent = data.message || "";
        result.className = "feedback-result notice " + (data.ok ? "flash-success" : "flash-error");
        if (data.ok) {
          var forms = box.querySelectorAll("form, details");
          forms.forEach(function (el) { el.hidden = true; });
          var state = box.querySelector(".vote-state");
          if (state && data.state) { state.textContent = data.state; state.hidden = false; }
          var label = box.getAttribute("data-change-label");
          if (label && !box.querySelector("button.change-answer")) {
            var change = document.createElement("button");
            change.type = "button"; change.className = "change-answer"; change.textContent = label;
            change.addEventListener("click", function () {
              forms.forEach(function (el) { el.hidden = false; if (el.classList.contains("change-vote")) el.open = true; });
              box.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
              change.remove();
            });
            (state || result).insertAdjacentElement("afterend", change);
          }
        } else if (button) {
          button.disabled = false;
        }
        result.focus();
      }).catch(function () {
        if (button) button.disabled = false;
        form.submit();  // the network hiccuped: fall back to the plain form
      });
    });
  });
})();
