// The admin SPA: served by fastmango at /admin (index.html for every client route), assets under /admin/assets/.
// `npm run build` writes ../static/, which is committed and shipped in the wheel; the build is deterministic
// (content hashes, no timestamps), and tests/admin/test_admin_build.py rebuilds it to check it matches.
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// `npm run dev` proxies the API to a running fastmango app (make dev), or to FASTMANGO_ADMIN_API.
const api = process.env.FASTMANGO_ADMIN_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/admin/",
  plugins: [vue()],
  build: {
    outDir: "../static",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
  server: {
    proxy: {
      "/admin/api": api,
      "/auth": api,
    },
  },
});
