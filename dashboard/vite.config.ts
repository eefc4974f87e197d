import { defineConfig } from 'vite';

// The dashboard is served by the gateway from dashboard/dist (crates/gateway/src/dashboard.rs).
// The build must be byte-for-byte reproducible: CI rebuilds it and checks `git diff`.
export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    // One script and one stylesheet: nothing inline (the CSP forbids it), no preload polyfill.
    modulePreload: false,
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` proxies the API to a local gateway.
    proxy: {
      '/client/v4': 'http://127.0.0.1:8787',
      '/v1': 'http://127.0.0.1:8787',
    },
  },
});
