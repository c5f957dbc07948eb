// Progressive enhancement: every form works without this file. It adds the Generate and Copy
// buttons and a live strength meter; the server checks every rule again on submit.
(function () {
  'use strict';

  var PRODUCT_NAME = 'mailpass';
  // The same browser builds and options as the server's estimator (src/core/passwords.ts), under
  // their hashed names; fetched on the first keystroke in a password field, then cached for good.
  var ZXCVBN_SCRIPTS = ((document.currentScript && document.currentScript.getAttribute('data-estimator')) || '').split(' ').filter(Boolean);
  var ZXCVBN_MAX_LENGTH = 64;
  // SPEC §17: the page's words, from its language's words-<lang>.js (loaded just before this
  // file); {{name}} stands for what varies.
  var STRINGS = window.mailpassWords || {};
  function tr(key, values) {
    return String(STRINGS[key] || key).replace(/\{\{(\w+)\}\}/g, function (_, name) { return values && name in values ? String(values[name]) : ''; });
  }
  var SCORE_WORDS = [tr('very-weak'), tr('weak'), tr('fair'), tr('good'), tr('strong')];

  // One polite live region for short confirmations such as "Password copied".
  var live = document.createElement('p');
  live.className = 'visually-hidden';
  live.setAttribute('aria-live', 'polite');
  document.body.appendChild(live);
  function announce(text) {
    live.textContent = '';
    setTimeout(function () { live.textContent = text; }, 50);
  }

  /** An element with a class, and either text or child elements. */
  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (typeof content === 'string') node.textContent = content;
    else if (content) content.forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function csrfOf(form) {
    var input = form.querySelector('input[name="_csrf"]');
    return input ? input.value : '';
  }

  // Generate: ask the server (it knows the policy and the mailbox) and fill the fields.
  // Without this script the button submits the form to the same URL and the server fills them.
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-generate]');
    if (!button) return;
    event.preventDefault();
    var form = button.form;
    var ids = button.getAttribute('data-generate').split(' ');
    button.disabled = true;
    fetch(button.getAttribute('formaction'), {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfOf(form) }),
      credentials: 'same-origin'
    })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (data) {
        button.disabled = false;
        ids.forEach(function (id) {
          var field = document.getElementById(id);
          field.type = 'text';
          field.value = data.password;
          field.dispatchEvent(new Event('input', { bubbles: true }));
        });
        var first = document.getElementById(ids[0]);
        first.focus();
        first.select();
        announce(tr('generated'));
      })
      .catch(function () {
        button.disabled = false;
        form.requestSubmit(button);
      });
  });

  // Copy: the value of the named field, or the text of the named element.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain HTTP on a LAN address has no async clipboard: fall back to a selection.
    return new Promise(function (resolve, reject) {
      var area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.className = 'visually-hidden';
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand('copy');
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error('copy refused'));
    });
  }

  document.querySelectorAll('[data-copy]').forEach(function (button) {
    button.hidden = false;
    var text = button.textContent;
    var label = button.getAttribute('aria-label');
    // What is copied, in words, in the page's language: data-copy-name="password".
    var what = button.getAttribute('data-copy-name') || tr('text');
    var timer = null;
    button.addEventListener('click', function () {
      var target = document.getElementById(button.getAttribute('data-copy'));
      var value = 'value' in target ? target.value : target.textContent;
      if (value === '') {
        announce(tr('nothing'));
        return;
      }
      copyText(value).then(
        function () {
          button.textContent = tr('copied');
          if (label) button.setAttribute('aria-label', tr('copied-what', { what: what }));
          button.classList.add('done');
          announce(tr('copied-announce', { what: what }));
          clearTimeout(timer);
          timer = setTimeout(function () {
            button.textContent = text;
            if (label) button.setAttribute('aria-label', label);
            button.classList.remove('done');
          }, 2000);
        },
        function () {
          if (target.select) target.select();
          else window.getSelection().selectAllChildren(target);
          announce(tr('copy-refused'));
        }
      );
    });
  });

  // Strength meter under each field marked data-strength="<id of the meter>".
  var fields = document.querySelectorAll('input[data-strength]');
  if (fields.length === 0) return;

  var UPPER = /\p{Lu}|\p{Lt}/u;
  var LOWER = /\p{Ll}/u;
  var DIGIT = /\p{Nd}/u;
  var SPECIAL = /[^\p{L}\p{N}\s]/u;
  var CONTROL = /\p{Cc}/u;
  var estimator = null;
  var commonPasswords = null;

  /** Parts of the context the password must not contain, as the server's policy lists them. */
  function forbiddenWords(meter) {
    var words = [PRODUCT_NAME];
    var local = (meter.getAttribute('data-local') || '').toLowerCase();
    if (local.length >= 3) words.push(local);
    var domain = (meter.getAttribute('data-domain') || '').toLowerCase();
    if (domain) {
      words.push(domain);
      var labels = domain.split('.');
      var main = labels.length > 1 ? labels[labels.length - 2] : labels[0];
      if (main.length >= 4) words.push(main);
    }
    return words;
  }

  /** The rules of the policy this password does not meet yet, in the panel's words. */
  function unmetRules(password, meter) {
    var out = [];
    var length = Array.from(password).length;
    if (length < 8) out.push(tr('rule-min', { min: 8, length: length }));
    if (length > 128) out.push(tr('rule-max', { max: 128, length: length }));
    if (!UPPER.test(password)) out.push(tr('rule-upper'));
    if (!LOWER.test(password)) out.push(tr('rule-lower'));
    if (!DIGIT.test(password)) out.push(tr('rule-digit'));
    if (!SPECIAL.test(password)) out.push(tr('rule-special'));
    if (CONTROL.test(password)) out.push(tr('rule-control'));
    var lower = password.toLowerCase();
    if (commonPasswords && commonPasswords.has(lower)) out.push(tr('rule-common'));
    if (forbiddenWords(meter).some(function (w) { return lower.indexOf(w) >= 0; })) {
      out.push(tr('rule-words', { product: PRODUCT_NAME }));
    }
    return out;
  }

  function render(field) {
    var meter = document.getElementById(field.getAttribute('data-strength'));
    if (!meter) return;
    var password = field.value;
    if (password === '') {
      meter.hidden = true;
      meter.removeAttribute('data-score');
      return;
    }
    meter.hidden = false;
    var word = meter.querySelector('.strength-word');
    var bar = meter.querySelector('.strength-bar');
    var list = meter.querySelector('.strength-rules');
    var warning = meter.querySelector('.strength-warning');
    if (estimator) {
      // The user inputs the server scores with: the product name, the local part and the domain.
      var inputs = [PRODUCT_NAME, meter.getAttribute('data-local'), meter.getAttribute('data-domain')].filter(Boolean);
      var result = estimator.check(Array.from(password).slice(0, ZXCVBN_MAX_LENGTH).join(''), inputs);
      meter.setAttribute('data-score', String(result.score));
      bar.setAttribute('data-score', String(result.score));
      word.textContent = SCORE_WORDS[result.score];
      warning.textContent = result.score < 3 && result.feedback.warning ? result.feedback.warning : '';
    } else {
      word.textContent = tr('checking');
    }
    var rules = unmetRules(password, meter);
    list.textContent = '';
    rules.forEach(function (rule) {
      var li = document.createElement('li');
      li.textContent = rule;
      list.appendChild(li);
    });
    meter.querySelector('.strength-needs').hidden = rules.length === 0;
  }

  function renderAll() {
    fields.forEach(render);
  }

  fields.forEach(function (field) {
    var meter = document.getElementById(field.getAttribute('data-strength'));
    if (!meter) return;
    meter.textContent = '';
    var bar = el('span', 'strength-bar');
    bar.setAttribute('aria-hidden', 'true');
    for (var i = 0; i < 4; i++) bar.appendChild(el('span'));
    var head = el('p', 'strength-head', [bar, el('span', '', tr('strength') + ' '), el('strong', 'strength-word')]);
    var needs = el('div', 'strength-needs', [el('p', '', tr('needed')), el('ul', 'strength-rules')]);
    [head, el('p', 'strength-warning'), needs].forEach(function (part) { meter.appendChild(part); });
    meter.hidden = true;
    field.addEventListener('input', function () { render(field); });
  });

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement('script');
      script.src = src;
      script.async = false;
      script.onload = resolve;
      script.onerror = function () { reject(new Error('could not load ' + src)); };
      document.head.appendChild(script);
    });
  }

  // About 1.7 MB of dictionaries: fetched and built only once someone types a password.
  var loading = null;
  function loadEstimator() {
    loading = loading || Promise.all(ZXCVBN_SCRIPTS.map(loadScript)).then(buildEstimator, estimatorFailed);
    return loading;
  }
  fields.forEach(function (field) {
    field.addEventListener('input', loadEstimator);
    if (field.value !== '') loadEstimator();
  });

  function buildEstimator() {
    var z = window.zxcvbnts;
    var common = z['language-common'];
    var english = z['language-en'];
    var dictionary = {};
    [common.dictionary, english.dictionary].forEach(function (d) {
      Object.keys(d).forEach(function (k) { dictionary[k] = d[k]; });
    });
    estimator = new z.core.ZxcvbnFactory({
      dictionary: dictionary,
      graphs: common.adjacencyGraphs,
      // The hints in the page's language (zxcvbn-ts's pack for it); the dictionaries stay the server's.
      translations: z.feedback || english.translations,
      l33tMaxSubstitutions: 16,
      maxLength: ZXCVBN_MAX_LENGTH
    });
    commonPasswords = new Set(common.dictionary['passwords-common'].map(function (p) { return String(p).toLowerCase(); }));
    document.documentElement.setAttribute('data-strength-ready', '');
    renderAll();
  }

  function estimatorFailed() {
    // Without the estimator the meter still lists the basic rules; the server decides anyway.
    fields.forEach(function (field) {
      var meter = document.getElementById(field.getAttribute('data-strength'));
      if (meter) meter.querySelector('.strength-head').hidden = true;
    });
    renderAll();
  }

  renderAll();
})();
