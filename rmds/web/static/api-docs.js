// Starts Swagger UI on /docs from the files rmds serves itself (nothing from a CDN), so the
// API documentation works offline and under the strict Content-Security-Policy.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    validatorUrl: null,  // the default badge would call validator.swagger.io
  });
});
