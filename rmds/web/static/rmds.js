// Painel: apply a filter as soon as it is chosen with the mouse or by touch (the form also
// works without JavaScript). From the keyboard, arrows only move through the options (a
// closed <select> fires "change" on every arrow press, which used to reload the page);
// Enter applies the choice, as does the "Mostrar" button.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("filtros");
  if (!form) return;
  form.querySelectorAll("select").forEach((select) => {
    let byKeyboard = false;
    select.addEventListener("keydown", (event) => {
      byKeyboard = true;
      if (event.key === "Enter") {
        event.preventDefault();
        form.submit();
      }
    });
    select.addEventListener("pointerdown", () => { byKeyboard = false; });
    select.addEventListener("change", () => { if (!byKeyboard) form.submit(); });
  });
});

// Map drill-down: a click on a municipality opens the next level down within the unit it
// belongs to (or the municipality's page). The page's table has the same links for the
// keyboard, so the map's 853 areas are not tab stops.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("svg.mapa").forEach((map) => {
    // on a touch screen there is no hover: the first tap on an area shows its name and
    // value, a second tap on the same area opens it
    let touched = null;
    let byTouch = false;
    map.addEventListener("pointerdown", (event) => { byTouch = event.pointerType === "touch"; });
    map.addEventListener("click", (event) => {
      const area = event.target.closest("path[data-href]");
      if (!area) return;
      if (byTouch && touched !== area) {
        touched = area;
        const title = area.querySelector("title");
        const tip = document.querySelector(".dica");
        if (title && tip) {
          tip.textContent = `${title.textContent} — toque de novo para abrir`;
          const box = area.getBoundingClientRect();
          tip.style.left = `${Math.max(4, window.scrollX + box.left)}px`;
          tip.style.top = `${window.scrollY + box.top - 36}px`;
          tip.hidden = false;
        }
        event.stopPropagation();
        return;
      }
      window.location.assign(area.getAttribute("data-href"));
    });
  });
});

// Charts: a tap (or click) on a point shows its value in a box beside it — touch screens
// have no hover, so the points' titles would never show there.
document.addEventListener("DOMContentLoaded", () => {
  const tip = document.createElement("div");
  tip.className = "dica";
  tip.setAttribute("role", "status");
  tip.hidden = true;
  document.body.appendChild(tip);
  document.addEventListener("click", (event) => {
    const point = event.target.closest("svg.serie circle, svg.tendencia circle");
    if (!point) { tip.hidden = true; return; }
    const title = point.querySelector("title");
    if (!title) return;
    tip.textContent = title.textContent;
    const box = point.getBoundingClientRect();
    tip.style.left = `${Math.max(4, Math.min(window.scrollX + box.left - 40, window.scrollX + document.documentElement.clientWidth - 220))}px`;
    tip.style.top = `${window.scrollY + box.top - 36}px`;
    tip.hidden = false;
  });
});
