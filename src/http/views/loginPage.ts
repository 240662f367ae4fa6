// Sign-in for staff and providers, the console's shared bar (who is signed in, sign out) and its error pages.
import { html } from 'hono/html';
import type { Role } from '../services.js';
import { page } from './layout.js';

export interface Viewer {
  name: string;
  role: Role;
}

export interface LoginPageModel {
  /** Said above the form, as an alert (a wrong token). */
  error?: string | null;
  /** Said above the form, as a status (signed out). */
  notice?: string | null;
  /** Already signed in (the session cookie is valid). */
  viewer?: Viewer | null;
}

export function loginPage(m: LoginPageModel) {
  return page({
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
${m.error ? html`<p class="flash flash-error" role="alert">${m.error}</p>` : ''}${m.notice ? html`<p class="flash flash-done" role="status">${m.notice}</p>` : ''}${
      m.viewer
        ? html`<p class="flash" role="status">You are signed in as <strong>${m.viewer.name}</strong>. Go to <a href="${homeOf(m.viewer)}">${m.viewer.role === 'staff' ? 'the staff page' : 'your provider page'}</a>, or sign in with another token below.</p>`
        : ''
    }
<section aria-labelledby="login-heading" class="login">
<h2 id="login-heading">Staff and mirror providers</h2>
<p>Sign in with the access token you were given. Staff see and run the whole network; a provider sees the traffic of its own mirrors.</p>
<form method="post" action="/login" class="stack">
  <label for="token">Access token</label>
  <input id="token" name="token" type="password" required autocomplete="current-password" spellcheck="false" autocapitalize="off" aria-describedby="token-help"${m.error ? html` aria-invalid="true"` : ''}>
  <p id="token-help" class="meta">The session lasts 12 hours on this device, until you sign out, or until the token is revoked. Scripts can send the same token as <code>Authorization: Bearer</code> instead.</p>
  <button type="submit" class="button">Sign in</button>
</form>
</section>`,
  });
}

export function homeOf(viewer: Viewer): string {
  return viewer.role === 'staff' ? '/staff' : '/provider';
}

/** The console's own navigation: where the viewer may go, who they are, and a way out. */
export function consoleBar(viewer: Viewer, current: 'staff' | 'provider') {
  const link = (href: string, label: string, here: boolean) => html`<a href="${href}"${here ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<nav class="console-bar" aria-label="Console">
  <p class="console-links">${viewer.role === 'staff' ? html`${link('/staff', 'Network', current === 'staff')} ${link('/provider', 'Provider view', current === 'provider')}` : link('/provider', 'Your mirrors', current === 'provider')}</p>
  <form method="post" action="/logout" class="console-who"><span>Signed in as <strong>${viewer.name}</strong> <span class="meta">(${viewer.role})</span></span> <button type="submit" class="link-button">Sign out</button></form>
</nav>`;
}

/** A short page for refusals and errors in the console (403, 404, CSRF). */
export function messagePage(title: string, message: string, viewer?: Viewer | null) {
  return page({
    title,
    body: html`<h1>${title}</h1>
<p class="flash flash-error" role="alert">${message}</p>
<p>${viewer ? html`Go to <a href="${homeOf(viewer)}">${viewer.role === 'staff' ? 'the staff page' : 'your provider page'}</a>, or <a href="/login">sign in with another token</a>.` : html`<a href="/login">Sign in</a>`}</p>`,
  });
}

/** After an offer was accepted with a provider token: the token, shown this once. */
export function tokenIssuedPage(m: { viewer: Viewer; done: string; token: string; name: string; mirrors: string[]; contact: string }) {
  return page({
    title: 'Offer accepted: provider token',
    body: html`${consoleBar(m.viewer, 'staff')}
<h1>Offer accepted</h1>
<p class="flash flash-done" role="status">${m.done}</p>
<section aria-labelledby="token-heading">
<h2 id="token-heading">The provider's token</h2>
<p>Send this token to ${m.contact} over a safe channel. <strong>It is shown only now</strong>: Mirrorgate keeps a hash of it, not the token. With it the provider signs in at <code>/login</code> to see its mirror (<code>${m.mirrors.join(', ')}</code>), upload its logo, drain it for maintenance and read its traffic.</p>
<p><label for="issued-token">Token for ${m.name}</label></p>
<p><input id="issued-token" class="token-value" readonly value="${m.token}" spellcheck="false" autocomplete="off" size="50"></p>
<p class="meta">Revoke it any time with <code>mirrorgate tokens revoke ${m.name}</code>.</p>
</section>
<p><a href="/staff">Back to the network</a></p>`,
  });
}
