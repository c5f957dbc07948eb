// Passkeys (SPEC §11): the browser half of WebAuthn, over SimpleWebAuthnBrowser (served from the
// @simplewebauthn/browser package). A button with data-passkey="<url>" asks <url>/options, lets
// the browser create (data-mode="register") or use a passkey, and posts the answer to <url>.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  // SPEC §17: the page's words, from its language's words-<lang>.js.
  var STRINGS = window.mailpassWords || {};
  function tr(key, status) { return String(STRINGS[key] || key).replace('{{status}}', String(status)); }

  function csrf() {
    var field = document.querySelector('input[name="_csrf"]');
    return field ? field.value : '';
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body || {}),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) throw new Error(json.message || tr('refused', res.status));
        return json;
      });
    });
  }

  function showCodes(codes) {
    var list = document.getElementById('passkey-codes');
    if (!list) return;
    codes.forEach(function (code) {
      var item = document.createElement('li');
      var text = document.createElement('code');
      text.textContent = code;
      item.appendChild(text);
      list.appendChild(item);
    });
    list.closest('[hidden]') && (list.closest('[hidden]').hidden = false);
  }

  document.querySelectorAll('[data-passkey]').forEach(function (button) {
    var status = document.getElementById(button.getAttribute('data-status'));
    button.hidden = false;
    button.addEventListener('click', function () {
      var base = button.getAttribute('data-passkey');
      var register = button.getAttribute('data-mode') === 'register';
      button.disabled = true;
      if (status) status.textContent = '';
      post(base + '/options')
        .then(function (options) {
          return register ? lib.startRegistration({ optionsJSON: options }) : lib.startAuthentication({ optionsJSON: options });
        })
        .then(function (answer) {
          return post(base, answer);
        })
        .then(function (result) {
          if (result.redirect) return location.assign(result.redirect);
          if (result.recoveryCodes) showCodes(result.recoveryCodes);
          if (status) status.textContent = result.message || tr('done');
        })
        .catch(function (err) {
          if (status) status.textContent = err.message || String(err);
        })
        .then(function () {
          button.disabled = false;
        });
    });
  });
})();
