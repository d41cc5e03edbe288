"""Server-rendered pages in Brazilian Portuguese (Jinja2 templates, SVG maps, no CDN)."""
