// Dismiss without reloading the page: optional progressive enhancement of the forms that
// user_messages/messages.html renders. Without this script (or without JavaScript) each form
// posts and the page comes back, which works just as well.
//
//   <script src="{% static 'user_messages/dismiss.js' %}" defer></script>
//
// It posts the same form (its CSRF token included) asking for JSON, removes the message, and
// fires "user-messages:dismissed" on the document with the view's answer (pendingCount ...).
// If anything goes wrong it submits the form the plain way.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches("form.user-message-dismiss")) {
    return;
  }
  event.preventDefault();
  const button = form.querySelector("button");
  if (button) button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const answer = await response.json();
    const item = form.closest(".user-message");
    const list = item && item.parentElement;
    if (item) item.remove();
    if (list && list.matches(".user-messages") && !list.children.length) list.remove();
    document.dispatchEvent(new CustomEvent("user-messages:dismissed", { detail: answer }));
  } catch (error) {
    form.submit(); // no submit event: this posts the form as if there were no script
  }
});
