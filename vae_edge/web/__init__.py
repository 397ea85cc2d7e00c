"""vae-edge in the browser: a static site (page + model folder) and a local server for it.

    from vae_edge.web import build_site, make_server

    build_site("site")                      # the bundled model, onnxruntime-web from the CDN
    build_site("site", ort_dir="node_modules/onnxruntime-web/dist", force=True)  # offline
    make_server("site", port=8000).serve_forever()

Nothing here imports torch: a core install builds and serves a site.
"""

from vae_edge.web.serve import make_server
from vae_edge.web.site import ORT_VERSION, SiteError, build_site

__all__ = ["ORT_VERSION", "SiteError", "build_site", "make_server"]
