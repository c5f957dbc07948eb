// Progressive enhancement: every form works without this file.
(function () {
  'use strict';

  function csrfOf(form) {
    var input = form.querySelector('input[name="_csrf"]');
    return input ? input.value : '';
  }

  // Generate: ask the server (it knows the policy and the mailbox) and fill the fields.
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-generate]');
    if (!button) return;
    event.preventDefault();
    var form = button.form;
    var body = new URLSearchParams({ _csrf: csrfOf(form) });
    fetch(button.getAttribute('formaction'), {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: body,
      credentials: 'same-origin'
    })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (data) {
        button.getAttribute('data-generate').split(' ').forEach(function (id) {
          var field = document.getElementById(id);
          field.type = 'text';
          field.value = data.password;
          field.dispatchEvent(new Event('input', { bubbles: true }));
        });
        document.getElementById(button.getAttribute('data-generate').split(' ')[0]).focus();
      })
      .catch(function () {
        form.requestSubmit(button);
      });
  });

  // Copy: the value of the named field, or the text of the named element.
  document.querySelectorAll('[data-copy]').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      var target = document.getElementById(button.getAttribute('data-copy'));
      var text = 'value' in target ? target.value : target.textContent;
      navigator.clipboard.writeText(text).then(function () {
        var label = button.textContent;
        button.textContent = 'Copied';
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });

  document.querySelectorAll('select[data-autosubmit]').forEach(function (select) {
    select.addEventListener('change', function () { select.form.requestSubmit(); });
  });
})();
