import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { RawAsset } from "../../contract/index.ts";

/**
 * The API reference page: Swagger UI reading /openapi.json. Its script and stylesheet come from the
 * swagger-ui-dist package and are served by the runner (GET /docs/assets/…): no CDN, since the
 * machines a cluster runs on may be offline. Paths are relative, so a proxy may mount it anywhere.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Entity cluster API reference</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true });</script>
</body>
</html>
`;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

const cache = new Map<string, Promise<RawAsset>>();

/** A file of swagger-ui-dist (the contract's enum limits `file` to the page's own), read once. */
export function docsAsset(file: string): Promise<RawAsset> {
  let asset = cache.get(file);
  if (!asset) {
    const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
    const content_type = CONTENT_TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
    asset = readFile(join(dir, file), "utf8").then((body) => ({ content_type, body }));
    // A failed read is not cached: the next request tries again.
    asset.catch(() => cache.delete(file));
    cache.set(file, asset);
  }
  return asset;
}
