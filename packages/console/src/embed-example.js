// The embed example's one line of glue: a real page sets `token` from what its backend minted.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
if (token) {
  history.replaceState(null, '', location.pathname);
  document.querySelector('logserver-viewer').setAttribute('token', token);
}
