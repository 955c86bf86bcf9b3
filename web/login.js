// The sign-in form served with a 401 when server.http_token is set: keeps the token in a cookie the status server
// accepts (SameSite=Strict, so no other site's page makes the browser send it), checks it, and reloads.
'use strict';
document.getElementById('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = document.getElementById('token').value.trim();
  document.cookie = `steerdns_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  const r = await fetch('/api/status', { cache: 'no-store' });
  await r.text(); // read to the end: a body still streaming when the page reloads counts as a failed request
  if (r.ok) {
    location.reload();
    return;
  }
  document.cookie = 'steerdns_token=; path=/; SameSite=Strict; max-age=0';
  document.getElementById('login-error').hidden = false;
});
