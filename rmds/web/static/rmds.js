// Painel: apply a filter as soon as it changes (the form also works without JavaScript).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("filtros");
  if (!form) return;
  form.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => form.submit()));
});
